SELECT DISTINCT
  *
FROM (
  SELECT
    `t8`.`user_id`,
    `t6`.`period` - `t8`.`cohort` AS `offset`
  FROM (
    SELECT
      `t3`.`user_id`,
      DATE_DIFF(DATE(DATETIME(`t3`.`start`, 'Europe/Berlin')), DATE(1970, 1, 1), DAY) AS `cohort`,
      `t3`.`start`
    FROM (
      SELECT
        `t2`.`user_id`,
        MIN(`t2`.`timestamp`) AS `start`
      FROM (
        SELECT
          `t0`.`user_id`,
          `t0`.`timestamp`,
          `t0`.`event`,
          `t0`.`platform`,
          `t0`.`screen`,
          `t0`.`revenue`,
          DATE_DIFF(DATE(DATETIME(`t0`.`timestamp`, 'Europe/Berlin')), DATE(1970, 1, 1), DAY) AS `cohort`
        FROM `events` AS `t0`
      ) AS `t2`
      GROUP BY
        1
    ) AS `t3`
  ) AS `t8`
  INNER JOIN (
    SELECT DISTINCT
      *
    FROM (
      SELECT
        `t1`.`user_id` AS `r_user`,
        DATE_DIFF(DATE(DATETIME(`t1`.`timestamp`, 'Europe/Berlin')), DATE(1970, 1, 1), DAY) AS `period`
      FROM (
        SELECT
          *
        FROM `events` AS `t0`
        WHERE
          `t0`.`event` IN ('purchase')
      ) AS `t1`
    ) AS `t4`
  ) AS `t6`
    ON `t8`.`user_id` = `t6`.`r_user`
) AS `t9`
WHERE
  `t9`.`offset` IN (1, 7, 30)
