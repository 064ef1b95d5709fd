SELECT
  "t4"."cohort" AS "cohort",
  "t4"."segment" AS "segment",
  COUNT(*) AS "members"
FROM (
  SELECT
    "t3"."user_id" AS "user_id",
    "t3"."cohort" AS "cohort",
    "t3"."timestamp" AS "start",
    COALESCE("t3"."platform", '(missing)') AS "segment"
  FROM (
    SELECT
      "t2"."user_id" AS "user_id",
      "t2"."timestamp" AS "timestamp",
      "t2"."event" AS "event",
      "t2"."platform" AS "platform",
      "t2"."screen" AS "screen",
      "t2"."revenue" AS "revenue",
      "t2"."cohort" AS "cohort",
      ROW_NUMBER() OVER (
        PARTITION BY "t2"."user_id"
        ORDER BY "t2"."timestamp" ASC
        ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
      ) - 1 AS "_rank"
    FROM (
      SELECT
        "t1"."user_id" AS "user_id",
        "t1"."timestamp" AS "timestamp",
        "t1"."event" AS "event",
        "t1"."platform" AS "platform",
        "t1"."screen" AS "screen",
        "t1"."revenue" AS "revenue",
        CAST(FLOOR(
          (
            DATE_DIFF(
              DAY,
              toDate(
                CONCAT(toString(1970), '-', LPAD(toString(1), 2, '0'), '-', LPAD(toString(1), 2, '0'))
              ),
              toDate(toTimeZone("t1"."timestamp", 'Europe/Berlin'))
            ) + 3
          ) / (
            7
          )
        ) AS Nullable(Int64)) AS "cohort"
      FROM (
        SELECT
          *
        FROM "events" AS "t0"
        WHERE
          "t0"."timestamp" < parseDateTimeBestEffort('2024-04-01T00:00:00+00:00', 'UTC')
      ) AS "t1"
    ) AS "t2"
  ) AS "t3"
  WHERE
    "t3"."_rank" = 0
) AS "t4"
GROUP BY
  "t4"."cohort",
  "t4"."segment"
