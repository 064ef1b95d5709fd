SELECT DISTINCT
  *
FROM (
  SELECT
    `t0`.`user_id`,
    DATE_DIFF(DATE(DATETIME(`t0`.`timestamp`, 'Europe/Berlin')), DATE(1970, 1, 1), DAY) AS `period`,
    COALESCE(`t0`.`platform`, '(missing)') AS `segment`
  FROM `events` AS `t0`
) AS `t1`
