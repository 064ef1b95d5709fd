WITH "t1" AS (
  SELECT
    *
  FROM "events" AS "t0"
  WHERE
    "t0"."timestamp" < parseDateTimeBestEffort('2024-04-01T00:00:00+00:00', 'UTC')
), "t10" AS (
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
          "t2"."user_id" AS "user_id",
          "t2"."timestamp" AS "timestamp",
          "t2"."event" AS "event",
          "t2"."platform" AS "platform",
          "t2"."screen" AS "screen",
          "t2"."revenue" AS "revenue",
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
          ) AS Nullable(Int64)) AS "cohort"
        FROM "t1" AS "t2"
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
      FROM "t1" AS "t2"
    ) AS "t4"
  ) AS "t6"
    ON "t9"."user_id" = "t6"."a_user" AND "t6"."period" >= "t9"."cohort"
)
SELECT
  *
FROM (
  SELECT
    "t14"."cohort" AS "cohort",
    "t14"."segment" AS "segment",
    "t14"."members" AS "members",
    0 AS "bracket"
  FROM (
    SELECT
      "t12"."cohort" AS "cohort",
      "t12"."segment" AS "segment",
      COUNT(*) AS "members"
    FROM (
      SELECT DISTINCT
        "t11"."user_id" AS "user_id",
        "t11"."cohort" AS "cohort",
        "t11"."segment" AS "segment"
      FROM "t10" AS "t11"
      WHERE
        (
          "t11"."period" - "t11"."cohort"
        ) >= 1
        AND (
          "t11"."period" - "t11"."cohort"
        ) <= 1
    ) AS "t12"
    GROUP BY
      "t12"."cohort",
      "t12"."segment"
  ) AS "t14"
) AS "t16"
UNION ALL
SELECT
  *
FROM (
  SELECT
    "t15"."cohort" AS "cohort",
    "t15"."segment" AS "segment",
    "t15"."members" AS "members",
    1 AS "bracket"
  FROM (
    SELECT
      "t13"."cohort" AS "cohort",
      "t13"."segment" AS "segment",
      COUNT(*) AS "members"
    FROM (
      SELECT DISTINCT
        "t11"."user_id" AS "user_id",
        "t11"."cohort" AS "cohort",
        "t11"."segment" AS "segment"
      FROM "t10" AS "t11"
      WHERE
        (
          "t11"."period" - "t11"."cohort"
        ) >= 2
        AND (
          "t11"."period" - "t11"."cohort"
        ) <= 4
    ) AS "t13"
    GROUP BY
      "t13"."cohort",
      "t13"."segment"
  ) AS "t15"
) AS "t17"
