WITH `t4` AS (
  SELECT
    `t1`.`user_id`,
    `t1`.`timestamp`,
    `t1`.`event`,
    `t1`.`platform`,
    `t1`.`screen`,
    `t1`.`revenue`,
    `t1`.`_ts`,
    `t1`.`_seq`,
    ROW_NUMBER() OVER (PARTITION BY `t1`.`user_id` ORDER BY `t1`.`_ts` ASC, `t1`.`_seq` ASC) - 1 AS `_rank`
  FROM (
    SELECT
      `t0`.`user_id`,
      `t0`.`timestamp`,
      `t0`.`event`,
      `t0`.`platform`,
      `t0`.`screen`,
      `t0`.`revenue`,
      `t0`.`timestamp` AS `_ts`,
      0 AS `_seq`
    FROM `events` AS `t0`
    WHERE
      `t0`.`event` = 'app_open'
  ) AS `t1`
), `t10` AS (
  SELECT
    `t9`.`e_user`,
    `t9`.`e_t1`,
    MIN(IF(`t9`.`_m1`, `t9`.`_ts`, NULL)) AS `f1`,
    MIN(IF(`t9`.`_m2`, `t9`.`_ts`, NULL)) AS `f2`
  FROM (
    SELECT
      `t3`.`user_id`,
      `t3`.`timestamp`,
      `t3`.`event`,
      `t3`.`platform`,
      `t3`.`screen`,
      `t3`.`revenue`,
      `t3`.`_ts`,
      `t3`.`_seq`,
      `t3`.`_m0`,
      `t3`.`_m1`,
      `t3`.`_m2`,
      `t8`.`e_user`,
      `t8`.`e_t1`,
      `t8`.`e_deadline`
    FROM (
      SELECT
        `t0`.`user_id`,
        `t0`.`timestamp`,
        `t0`.`event`,
        `t0`.`platform`,
        `t0`.`screen`,
        `t0`.`revenue`,
        `t0`.`timestamp` AS `_ts`,
        0 AS `_seq`,
        `t0`.`event` = 'app_open' AS `_m0`,
        `t0`.`event` = 'add_to_cart' AS `_m1`,
        `t0`.`event` = 'purchase' AS `_m2`
      FROM `events` AS `t0`
    ) AS `t3`
    INNER JOIN (
      SELECT
        `t5`.`user_id` AS `e_user`,
        `t5`.`_ts` AS `e_t1`,
        TIMESTAMP_ADD(`t5`.`_ts`, INTERVAL '604800' SECOND) AS `e_deadline`
      FROM `t4` AS `t5`
      WHERE
        `t5`.`_rank` = 0
    ) AS `t8`
      ON `t3`.`user_id` = `t8`.`e_user`
      AND `t3`.`_ts` >= `t8`.`e_t1`
      AND `t3`.`_ts` <= `t8`.`e_deadline`
  ) AS `t9`
  GROUP BY
    1,
    2
)
SELECT
  *
FROM (
  SELECT
    `t13`.`e_user` AS `user_id`,
    3 AS `step`,
    TIMESTAMP_DIFF(`t13`.`r2`, `t13`.`e_t1`, MICROSECOND) AS `elapsed_us`
  FROM (
    SELECT
      `t11`.`e_user`,
      `t11`.`e_t1`,
      `t11`.`f1`,
      `t11`.`f2`,
      IF(`t11`.`f1` IS NULL, NULL, `t11`.`f1`) AS `r1`,
      IF(
        (
          `t11`.`f1` IS NULL
        ) OR (
          `t11`.`f2` IS NULL
        ),
        NULL,
        GREATEST(`t11`.`f1`, `t11`.`f2`)
      ) AS `r2`
    FROM `t10` AS `t11`
  ) AS `t13`
  WHERE
    `t13`.`r2` IS NOT NULL
) AS `t15`
UNION ALL
SELECT
  *
FROM (
  SELECT
    *
  FROM (
    SELECT
      `t5`.`user_id`,
      1 AS `step`,
      CAST(0 AS INT64) AS `elapsed_us`
    FROM `t4` AS `t5`
    WHERE
      `t5`.`_rank` = 0
  ) AS `t6`
  UNION ALL
  SELECT
    *
  FROM (
    SELECT
      `t11`.`e_user` AS `user_id`,
      2 AS `step`,
      TIMESTAMP_DIFF(IF(`t11`.`f1` IS NULL, NULL, `t11`.`f1`), `t11`.`e_t1`, MICROSECOND) AS `elapsed_us`
    FROM `t10` AS `t11`
    WHERE
      IF(`t11`.`f1` IS NULL, NULL, `t11`.`f1`) IS NOT NULL
  ) AS `t12`
) AS `t14`
