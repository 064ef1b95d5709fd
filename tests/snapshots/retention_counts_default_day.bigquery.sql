WITH `t3` AS (
  SELECT DISTINCT
    *
  FROM (
    SELECT
      `t1`.`user_id` AS `a_user`,
      DATE_DIFF(DATE(DATETIME(`t1`.`timestamp`, 'Europe/Berlin')), DATE(1970, 1, 1), DAY) AS `period`
    FROM (
      SELECT
        *
      FROM `events` AS `t0`
      WHERE
        `t0`.`timestamp` < TIMESTAMP('2024-04-01T00:00:00+00:00')
    ) AS `t1`
  ) AS `t2`
)
SELECT
  `t9`.`cohort`,
  `t9`.`offset`,
  COUNT(*) AS `members`
FROM (
  SELECT
    `t8`.`user_id`,
    `t8`.`cohort`,
    `t8`.`a_user`,
    `t8`.`period`,
    `t8`.`period` - `t8`.`cohort` AS `offset`
  FROM (
    SELECT
      `t7`.`user_id`,
      `t7`.`cohort`,
      `t5`.`a_user`,
      `t5`.`period`
    FROM (
      SELECT
        `t4`.`a_user` AS `user_id`,
        MIN(`t4`.`period`) AS `cohort`
      FROM `t3` AS `t4`
      GROUP BY
        1
    ) AS `t7`
    INNER JOIN `t3` AS `t5`
      ON `t7`.`user_id` = `t5`.`a_user` AND `t5`.`period` >= `t7`.`cohort`
  ) AS `t8`
) AS `t9`
GROUP BY
  1,
  2
