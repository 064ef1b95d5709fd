WITH "t3" AS (
  SELECT DISTINCT
    *
  FROM (
    SELECT
      "t1"."user_id" AS "a_user",
      DATE_DIFF(
        DAY,
        toDate(
          CONCAT(toString(1970), '-', LPAD(toString(1), 2, '0'), '-', LPAD(toString(1), 2, '0'))
        ),
        toDate(toTimeZone("t1"."timestamp", 'Europe/Berlin'))
      ) AS "period"
    FROM (
      SELECT
        *
      FROM "events" AS "t0"
      WHERE
        "t0"."timestamp" < parseDateTimeBestEffort('2024-04-01T00:00:00+00:00', 'UTC')
    ) AS "t1"
  ) AS "t2"
)
SELECT
  "t9"."cohort" AS "cohort",
  "t9"."offset" AS "offset",
  COUNT(*) AS "members"
FROM (
  SELECT
    "t8"."user_id" AS "user_id",
    "t8"."cohort" AS "cohort",
    "t8"."a_user" AS "a_user",
    "t8"."period" AS "period",
    "t8"."period" - "t8"."cohort" AS "offset"
  FROM (
    SELECT
      "t7"."user_id" AS "user_id",
      "t7"."cohort" AS "cohort",
      "t5"."a_user" AS "a_user",
      "t5"."period" AS "period"
    FROM (
      SELECT
        "t4"."a_user" AS "user_id",
        MIN("t4"."period") AS "cohort"
      FROM "t3" AS "t4"
      GROUP BY
        "t4"."a_user"
    ) AS "t7"
    INNER JOIN "t3" AS "t5"
      ON "t7"."user_id" = "t5"."a_user" AND "t5"."period" >= "t7"."cohort"
  ) AS "t8"
) AS "t9"
GROUP BY
  "t9"."cohort",
  "t9"."offset"
