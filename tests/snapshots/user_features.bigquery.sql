WITH `t1` AS (
  SELECT
    *
  FROM `events` AS `t0`
  WHERE
    `t0`.`timestamp` < TIMESTAMP('2024-04-01T00:00:00+00:00')
)
SELECT
  `t6`.`user_id`,
  CAST(FLOOR(
    ieee_divide(
      TIMESTAMP_DIFF(TIMESTAMP('2024-04-01T00:00:00+00:00'), `t6`.`last`, MICROSECOND),
      86400000000
    )
  ) AS INT64) AS `recency_days`,
  CAST(FLOOR(
    ieee_divide(
      TIMESTAMP_DIFF(TIMESTAMP('2024-04-01T00:00:00+00:00'), `t6`.`first`, MICROSECOND),
      86400000000
    )
  ) AS INT64) AS `tenure_days`,
  `t6`.`active_days`,
  `t6`.`events`,
  `t11`.`sessions`,
  `t6`.`revenue`,
  `t6`.`converted` = 1 AS `converted`
FROM (
  SELECT
    `t3`.`user_id`,
    MAX(`t3`.`timestamp`) AS `last`,
    MIN(`t3`.`timestamp`) AS `first`,
    COUNT(DISTINCT `t3`.`_day`) AS `active_days`,
    COUNT(*) AS `events`,
    MAX(CAST(`t3`.`event` IN ('purchase') AS INT64)) AS `converted`,
    SUM(COALESCE(`t3`.`revenue`, 0)) AS `revenue`
  FROM (
    SELECT
      `t2`.`user_id`,
      `t2`.`timestamp`,
      `t2`.`event`,
      `t2`.`platform`,
      `t2`.`screen`,
      `t2`.`revenue`,
      DATE_DIFF(DATE(DATETIME(`t2`.`timestamp`, 'Europe/Berlin')), DATE(1970, 1, 1), DAY) AS `_day`
    FROM `t1` AS `t2`
  ) AS `t3`
  GROUP BY
    1
) AS `t6`
INNER JOIN (
  SELECT
    `t9`.`user_id`,
    COUNT(*) AS `sessions`
  FROM (
    SELECT
      `t8`.`user_id`,
      `t8`.`session`,
      `t8`.`start`,
      `t8`.`end`,
      `t8`.`n_events`,
      `t8`.`n_views`,
      `t8`.`converted`,
      `t8`.`revenue`,
      TIMESTAMP_DIFF(`t8`.`end`, `t8`.`start`, MICROSECOND) AS `duration_us`,
      `t8`.`n_events` = 1 AS `bounce`,
      (
        TIMESTAMP_DIFF(`t8`.`end`, `t8`.`start`, MICROSECOND) >= 10000000
      )
      OR (
        `t8`.`n_views` >= 2
      )
      OR `t8`.`converted` AS `engaged`
    FROM (
      SELECT
        `t7`.`user_id`,
        `t7`.`session`,
        MIN(`t7`.`_ts`) AS `start`,
        MAX(`t7`.`_ts`) AS `end`,
        COUNT(*) AS `n_events`,
        SUM(CAST(`t7`.`event` IN ('screen_view', 'page_view', 'app_open') AS INT64)) AS `n_views`,
        MAX(CAST(`t7`.`event` IN ('purchase') AS INT64)) > 0 AS `converted`,
        SUM(COALESCE(`t7`.`revenue`, 0)) AS `revenue`
      FROM (
        SELECT
          `t4`.`user_id`,
          `t4`.`timestamp`,
          `t4`.`event`,
          `t4`.`platform`,
          `t4`.`screen`,
          `t4`.`revenue`,
          `t4`.`_ts`,
          `t4`.`_new`,
          SUM(`t4`.`_new`) OVER (
            PARTITION BY `t4`.`user_id`
            ORDER BY `t4`.`timestamp` ASC
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
          ) AS `session`
        FROM (
          SELECT
            `t2`.`user_id`,
            `t2`.`timestamp`,
            `t2`.`event`,
            `t2`.`platform`,
            `t2`.`screen`,
            `t2`.`revenue`,
            `t2`.`timestamp` AS `_ts`,
            CAST((
              LAG(`t2`.`timestamp`) OVER (PARTITION BY `t2`.`user_id` ORDER BY `t2`.`timestamp` ASC) IS NULL
            )
            OR (
              `t2`.`timestamp` > TIMESTAMP_ADD(
                LAG(`t2`.`timestamp`) OVER (PARTITION BY `t2`.`user_id` ORDER BY `t2`.`timestamp` ASC),
                INTERVAL '1800' SECOND
              )
            ) AS INT64) AS `_new`
          FROM `t1` AS `t2`
        ) AS `t4`
      ) AS `t7`
      GROUP BY
        1,
        2
    ) AS `t8`
  ) AS `t9`
  GROUP BY
    1
) AS `t11`
  ON `t6`.`user_id` = `t11`.`user_id`
