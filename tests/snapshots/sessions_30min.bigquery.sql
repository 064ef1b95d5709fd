SELECT
  `t3`.`user_id`,
  `t3`.`session`,
  `t3`.`start`,
  `t3`.`end`,
  `t3`.`n_events`,
  `t3`.`n_views`,
  `t3`.`converted`,
  `t3`.`revenue`,
  `t3`.`platform`,
  TIMESTAMP_DIFF(`t3`.`end`, `t3`.`start`, MICROSECOND) AS `duration_us`,
  `t3`.`n_events` = 1 AS `bounce`,
  (
    TIMESTAMP_DIFF(`t3`.`end`, `t3`.`start`, MICROSECOND) >= 10000000
  )
  OR (
    `t3`.`n_views` >= 2
  )
  OR `t3`.`converted` AS `engaged`
FROM (
  SELECT
    `t2`.`user_id`,
    `t2`.`session`,
    MIN(`t2`.`_ts`) AS `start`,
    MAX(`t2`.`_ts`) AS `end`,
    COUNT(*) AS `n_events`,
    SUM(CAST(`t2`.`event` IN ('screen_view', 'page_view', 'app_open') AS INT64)) AS `n_views`,
    MAX(CAST(`t2`.`event` IN ('purchase') AS INT64)) > 0 AS `converted`,
    SUM(COALESCE(`t2`.`revenue`, 0)) AS `revenue`,
    MAX(IF(`t2`.`_new` = 1, `t2`.`platform`, NULL)) AS `platform`
  FROM (
    SELECT
      `t1`.`user_id`,
      `t1`.`timestamp`,
      `t1`.`event`,
      `t1`.`platform`,
      `t1`.`screen`,
      `t1`.`revenue`,
      `t1`.`_ts`,
      `t1`.`_new`,
      SUM(`t1`.`_new`) OVER (
        PARTITION BY `t1`.`user_id`
        ORDER BY `t1`.`timestamp` ASC
        ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
      ) AS `session`
    FROM (
      SELECT
        `t0`.`user_id`,
        `t0`.`timestamp`,
        `t0`.`event`,
        `t0`.`platform`,
        `t0`.`screen`,
        `t0`.`revenue`,
        `t0`.`timestamp` AS `_ts`,
        CAST((
          LAG(`t0`.`timestamp`) OVER (PARTITION BY `t0`.`user_id` ORDER BY `t0`.`timestamp` ASC) IS NULL
        )
        OR (
          `t0`.`timestamp` > TIMESTAMP_ADD(
            LAG(`t0`.`timestamp`) OVER (PARTITION BY `t0`.`user_id` ORDER BY `t0`.`timestamp` ASC),
            INTERVAL '1800' SECOND
          )
        ) AS INT64) AS `_new`
      FROM `events` AS `t0`
    ) AS `t1`
  ) AS `t2`
  GROUP BY
    1,
    2
) AS `t3`
