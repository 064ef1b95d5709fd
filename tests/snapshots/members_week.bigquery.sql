SELECT
  `t3`.`user_id`,
  CAST(FLOOR(
    ieee_divide(
      DATE_DIFF(DATE(DATETIME(`t3`.`start`, 'Europe/Berlin')), DATE(1970, 1, 1), DAY) + 3,
      7
    )
  ) AS INT64) AS `cohort`,
  `t3`.`start`
FROM (
  SELECT
    `t2`.`user_id`,
    MIN(`t2`.`timestamp`) AS `start`
  FROM (
    SELECT
      `t1`.`user_id`,
      `t1`.`timestamp`,
      `t1`.`event`,
      `t1`.`platform`,
      `t1`.`screen`,
      `t1`.`revenue`,
      CAST(FLOOR(
        ieee_divide(
          DATE_DIFF(DATE(DATETIME(`t1`.`timestamp`, 'Europe/Berlin')), DATE(1970, 1, 1), DAY) + 3,
          7
        )
      ) AS INT64) AS `cohort`
    FROM (
      SELECT
        *
      FROM `events` AS `t0`
      WHERE
        `t0`.`event` IN ('app_open')
    ) AS `t1`
  ) AS `t2`
  GROUP BY
    1
) AS `t3`
