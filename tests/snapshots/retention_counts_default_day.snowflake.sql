WITH "t3" AS (
  SELECT DISTINCT
    *
  FROM (
    SELECT
      "t1"."user_id" AS "a_user",
      DATEDIFF(
        DAY,
        DATE_FROM_PARTS(1970, 1, 1),
        TO_DATE(CONVERT_TIMEZONE('UTC', 'Europe/Berlin', "t1"."timestamp"))
      ) AS "period"
    FROM (
      SELECT
        *
      FROM "events" AS "t0"
      WHERE
        "t0"."timestamp" < TIMESTAMP_TZ_FROM_PARTS(2024, 4, 1, 0, 0, 0, 0, 'UTC')
    ) AS "t1"
  ) AS "t2"
)
SELECT
  "t9"."cohort",
  "t9"."offset",
  COUNT(*) AS "members"
FROM (
  SELECT
    "t8"."user_id",
    "t8"."cohort",
    "t8"."a_user",
    "t8"."period",
    "t8"."period" - "t8"."cohort" AS "offset"
  FROM (
    SELECT
      "t7"."user_id",
      "t7"."cohort",
      "t5"."a_user",
      "t5"."period"
    FROM (
      SELECT
        "t4"."a_user" AS "user_id",
        MIN("t4"."period") AS "cohort"
      FROM "t3" AS "t4"
      GROUP BY
        1
    ) AS "t7"
    INNER JOIN "t3" AS "t5"
      ON "t7"."user_id" = "t5"."a_user" AND "t5"."period" >= "t7"."cohort"
  ) AS "t8"
) AS "t9"
GROUP BY
  1,
  2
