SELECT
  "t11"."cohort",
  "t11"."segment",
  "t11"."offset",
  COUNT(*) AS "members"
FROM (
  SELECT
    "t10"."user_id",
    "t10"."cohort",
    "t10"."start",
    "t10"."segment",
    "t10"."a_user",
    "t10"."period",
    "t10"."period" - "t10"."cohort" AS "offset"
  FROM (
    SELECT
      "t9"."user_id",
      "t9"."cohort",
      "t9"."start",
      "t9"."segment",
      "t6"."a_user",
      "t6"."period"
    FROM (
      SELECT
        "t7"."user_id",
        "t7"."cohort",
        "t7"."timestamp" AS "start",
        COALESCE("t7"."platform", '(missing)') AS "segment"
      FROM (
        SELECT
          "t3"."user_id",
          "t3"."timestamp",
          "t3"."event",
          "t3"."platform",
          "t3"."screen",
          "t3"."revenue",
          "t3"."cohort",
          ROW_NUMBER() OVER (PARTITION BY "t3"."user_id" ORDER BY "t3"."timestamp" ASC) - 1 AS "_rank"
        FROM (
          SELECT
            "t1"."user_id",
            "t1"."timestamp",
            "t1"."event",
            "t1"."platform",
            "t1"."screen",
            "t1"."revenue",
            CAST(FLOOR(
              (
                DATEDIFF(
                  DAY,
                  DATE_FROM_PARTS(1970, 1, 1),
                  TO_DATE(CONVERT_TIMEZONE('UTC', 'Europe/Berlin', "t1"."timestamp"))
                ) + 3
              ) / (
                7
              )
            ) AS BIGINT) AS "cohort"
          FROM (
            SELECT
              *
            FROM "events" AS "t0"
            WHERE
              "t0"."timestamp" < TIMESTAMP_TZ_FROM_PARTS(2024, 4, 1, 0, 0, 0, 0, 'UTC')
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
              DATEDIFF(
                DAY,
                DATE_FROM_PARTS(1970, 1, 1),
                TO_DATE(CONVERT_TIMEZONE('UTC', 'Europe/Berlin', "t2"."timestamp"))
              ) + 3
            ) / (
              7
            )
          ) AS BIGINT) AS "period"
        FROM (
          SELECT
            *
          FROM "events" AS "t0"
          WHERE
            "t0"."timestamp" < TIMESTAMP_TZ_FROM_PARTS(2024, 4, 1, 0, 0, 0, 0, 'UTC')
            AND "t0"."event" IN ('purchase')
        ) AS "t2"
      ) AS "t4"
    ) AS "t6"
      ON "t9"."user_id" = "t6"."a_user" AND "t6"."period" >= "t9"."cohort"
  ) AS "t10"
) AS "t11"
GROUP BY
  1,
  2,
  3
