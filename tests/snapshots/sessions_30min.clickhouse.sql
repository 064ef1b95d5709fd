SELECT
  "t3"."user_id" AS "user_id",
  "t3"."session" AS "session",
  "t3"."start" AS "start",
  "t3"."end" AS "end",
  "t3"."n_events" AS "n_events",
  "t3"."n_views" AS "n_views",
  "t3"."converted" AS "converted",
  "t3"."revenue" AS "revenue",
  "t3"."platform" AS "platform",
  DATE_DIFF(MICROSECOND, "t3"."start", "t3"."end") AS "duration_us",
  "t3"."n_events" = 1 AS "bounce",
  (
    DATE_DIFF(MICROSECOND, "t3"."start", "t3"."end") >= 10000000
  )
  OR (
    "t3"."n_views" >= 2
  )
  OR "t3"."converted" AS "engaged"
FROM (
  SELECT
    "t2"."user_id" AS "user_id",
    "t2"."session" AS "session",
    MIN("t2"."_ts") AS "start",
    MAX("t2"."_ts") AS "end",
    COUNT(*) AS "n_events",
    SUM(
      CAST("t2"."event" IN ('screen_view', 'page_view', 'app_open') AS Nullable(Int64))
    ) AS "n_views",
    MAX(CAST("t2"."event" IN ('purchase') AS Nullable(Int64))) > 0 AS "converted",
    SUM(COALESCE("t2"."revenue", 0)) AS "revenue",
    MAX(CASE WHEN "t2"."_new" = 1 THEN "t2"."platform" ELSE NULL END) AS "platform"
  FROM (
    SELECT
      "t1"."user_id" AS "user_id",
      "t1"."timestamp" AS "timestamp",
      "t1"."event" AS "event",
      "t1"."platform" AS "platform",
      "t1"."screen" AS "screen",
      "t1"."revenue" AS "revenue",
      "t1"."_ts" AS "_ts",
      "t1"."_new" AS "_new",
      SUM("t1"."_new") OVER (
        PARTITION BY "t1"."user_id"
        ORDER BY "t1"."timestamp" ASC
        ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
      ) AS "session"
    FROM (
      SELECT
        "t0"."user_id" AS "user_id",
        "t0"."timestamp" AS "timestamp",
        "t0"."event" AS "event",
        "t0"."platform" AS "platform",
        "t0"."screen" AS "screen",
        "t0"."revenue" AS "revenue",
        "t0"."timestamp" AS "_ts",
        CAST(isNull(
          lagInFrame("t0"."timestamp") OVER (
            PARTITION BY "t0"."user_id"
            ORDER BY "t0"."timestamp" ASC
            ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
          )
        )
        OR (
          "t0"."timestamp" > (
            lagInFrame("t0"."timestamp") OVER (
              PARTITION BY "t0"."user_id"
              ORDER BY "t0"."timestamp" ASC
              ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
            ) + INTERVAL '1800' SECOND
          )
        ) AS Nullable(Int64)) AS "_new"
      FROM "events" AS "t0"
    ) AS "t1"
  ) AS "t2"
  GROUP BY
    "t2"."user_id",
    "t2"."session"
) AS "t3"
