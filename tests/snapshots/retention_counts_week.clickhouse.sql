SELECT
  "t11"."cohort" AS "cohort",
  "t11"."segment" AS "segment",
  "t11"."offset" AS "offset",
  COUNT(*) AS "members"
FROM (
  SELECT
    "t10"."user_id" AS "user_id",
    "t10"."cohort" AS "cohort",
    "t10"."start" AS "start",
    "t10"."segment" AS "segment",
    "t10"."a_user" AS "a_user",
    "t10"."period" AS "period",
    "t10"."period" - "t10"."cohort" AS "offset"
  FROM (
    SELECT
      "t9"."user_id" AS "user_id",
      "t9"."cohort" AS "cohort",
      "t9"."start" AS "start",
      "t9"."segment" AS "segment",
      "t6"."a_user" AS "a_user",
      "t6"."period" AS "period"
    FROM (
      SELECT
        "t7"."user_id" AS "user_id",
        "t7"."cohort" AS "cohort",
        "t7"."timestamp" AS "start",
        COALESCE("t7"."platform", '(missing)') AS "segment"
      FROM (
        SELECT
          "t3"."user_id" AS "user_id",
          "t3"."timestamp" AS "timestamp",
          "t3"."event" AS "event",
          "t3"."platform" AS "platform",
          "t3"."screen" AS "screen",
          "t3"."revenue" AS "revenue",
          "t3"."cohort" AS "cohort",
          ROW_NUMBER() OVER (
            PARTITION BY "t3"."user_id"
            ORDER BY "t3"."timestamp" ASC
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
        ) AS "t3"
      ) AS "t7"
      WHERE
        "t7"."_rank" = 0
    ) AS "t9"
    INNER JOIN (
      SELECT DISTINCT
        *
      FROM (
        SELECT
          "t2"."user_id" AS "a_user",
          CAST(FLOOR(
            (
              DATE_DIFF(
                DAY,
                toDate(
                  CONCAT(toString(1970), '-', LPAD(toString(1), 2, '0'), '-', LPAD(toString(1), 2, '0'))
                ),
                toDate(toTimeZone("t2"."timestamp", 'Europe/Berlin'))
              ) + 3
            ) / (
              7
            )
          ) AS Nullable(Int64)) AS "period"
        FROM (
          SELECT
            *
          FROM "events" AS "t0"
          WHERE
            "t0"."timestamp" < parseDateTimeBestEffort('2024-04-01T00:00:00+00:00', 'UTC')
            AND "t0"."event" IN ('purchase')
        ) AS "t2"
      ) AS "t4"
    ) AS "t6"
      ON "t9"."user_id" = "t6"."a_user" AND "t6"."period" >= "t9"."cohort"
  ) AS "t10"
) AS "t11"
GROUP BY
  "t11"."cohort",
  "t11"."segment",
  "t11"."offset"
