WITH "t1" AS (
  SELECT
    *
  FROM "events" AS "t0"
  WHERE
    "t0"."timestamp" < parseDateTimeBestEffort('2024-04-01T00:00:00+00:00', 'UTC')
)
SELECT
  "t6"."user_id" AS "user_id",
  CAST(FLOOR(
    (
      DATE_DIFF(
        MICROSECOND,
        "t6"."last",
        parseDateTimeBestEffort('2024-04-01T00:00:00+00:00', 'UTC')
      )
    ) / (
      86400000000
    )
  ) AS Nullable(Int64)) AS "recency_days",
  CAST(FLOOR(
    (
      DATE_DIFF(
        MICROSECOND,
        "t6"."first",
        parseDateTimeBestEffort('2024-04-01T00:00:00+00:00', 'UTC')
      )
    ) / (
      86400000000
    )
  ) AS Nullable(Int64)) AS "tenure_days",
  "t6"."active_days" AS "active_days",
  "t6"."events" AS "events",
  "t11"."sessions" AS "sessions",
  "t6"."revenue" AS "revenue",
  "t6"."converted" = 1 AS "converted"
FROM (
  SELECT
    "t3"."user_id" AS "user_id",
    MAX("t3"."timestamp") AS "last",
    MIN("t3"."timestamp") AS "first",
    uniq("t3"."_day") AS "active_days",
    COUNT(*) AS "events",
    MAX(CAST("t3"."event" IN ('purchase') AS Nullable(Int64))) AS "converted",
    SUM(COALESCE("t3"."revenue", 0)) AS "revenue"
  FROM (
    SELECT
      "t2"."user_id" AS "user_id",
      "t2"."timestamp" AS "timestamp",
      "t2"."event" AS "event",
      "t2"."platform" AS "platform",
      "t2"."screen" AS "screen",
      "t2"."revenue" AS "revenue",
      DATE_DIFF(
        DAY,
        toDate(
          CONCAT(toString(1970), '-', LPAD(toString(1), 2, '0'), '-', LPAD(toString(1), 2, '0'))
        ),
        toDate(toTimeZone("t2"."timestamp", 'Europe/Berlin'))
      ) AS "_day"
    FROM "t1" AS "t2"
  ) AS "t3"
  GROUP BY
    "t3"."user_id"
) AS "t6"
INNER JOIN (
  SELECT
    "t9"."user_id" AS "user_id",
    COUNT(*) AS "sessions"
  FROM (
    SELECT
      "t8"."user_id" AS "user_id",
      "t8"."session" AS "session",
      "t8"."start" AS "start",
      "t8"."end" AS "end",
      "t8"."n_events" AS "n_events",
      "t8"."n_views" AS "n_views",
      "t8"."converted" AS "converted",
      "t8"."revenue" AS "revenue",
      DATE_DIFF(MICROSECOND, "t8"."start", "t8"."end") AS "duration_us",
      "t8"."n_events" = 1 AS "bounce",
      (
        DATE_DIFF(MICROSECOND, "t8"."start", "t8"."end") >= 10000000
      )
      OR (
        "t8"."n_views" >= 2
      )
      OR "t8"."converted" AS "engaged"
    FROM (
      SELECT
        "t7"."user_id" AS "user_id",
        "t7"."session" AS "session",
        MIN("t7"."_ts") AS "start",
        MAX("t7"."_ts") AS "end",
        COUNT(*) AS "n_events",
        SUM(
          CAST("t7"."event" IN ('screen_view', 'page_view', 'app_open') AS Nullable(Int64))
        ) AS "n_views",
        MAX(CAST("t7"."event" IN ('purchase') AS Nullable(Int64))) > 0 AS "converted",
        SUM(COALESCE("t7"."revenue", 0)) AS "revenue"
      FROM (
        SELECT
          "t4"."user_id" AS "user_id",
          "t4"."timestamp" AS "timestamp",
          "t4"."event" AS "event",
          "t4"."platform" AS "platform",
          "t4"."screen" AS "screen",
          "t4"."revenue" AS "revenue",
          "t4"."_ts" AS "_ts",
          "t4"."_new" AS "_new",
          SUM("t4"."_new") OVER (
            PARTITION BY "t4"."user_id"
            ORDER BY "t4"."timestamp" ASC
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
          ) AS "session"
        FROM (
          SELECT
            "t2"."user_id" AS "user_id",
            "t2"."timestamp" AS "timestamp",
            "t2"."event" AS "event",
            "t2"."platform" AS "platform",
            "t2"."screen" AS "screen",
            "t2"."revenue" AS "revenue",
            "t2"."timestamp" AS "_ts",
            CAST(isNull(
              lagInFrame("t2"."timestamp") OVER (
                PARTITION BY "t2"."user_id"
                ORDER BY "t2"."timestamp" ASC
                ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
              )
            )
            OR (
              "t2"."timestamp" > (
                lagInFrame("t2"."timestamp") OVER (
                  PARTITION BY "t2"."user_id"
                  ORDER BY "t2"."timestamp" ASC
                  ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
                ) + INTERVAL '1800' SECOND
              )
            ) AS Nullable(Int64)) AS "_new"
          FROM "t1" AS "t2"
        ) AS "t4"
      ) AS "t7"
      GROUP BY
        "t7"."user_id",
        "t7"."session"
    ) AS "t8"
  ) AS "t9"
  GROUP BY
    "t9"."user_id"
) AS "t11"
  ON "t6"."user_id" = "t11"."user_id"
