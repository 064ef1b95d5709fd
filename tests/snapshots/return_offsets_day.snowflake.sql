SELECT DISTINCT
  *
FROM (
  SELECT
    "t8"."user_id",
    "t6"."period" - "t8"."cohort" AS "offset"
  FROM (
    SELECT
      "t3"."user_id",
      DATEDIFF(
        DAY,
        DATE_FROM_PARTS(1970, 1, 1),
        TO_DATE(CONVERT_TIMEZONE('UTC', 'Europe/Berlin', "t3"."start"))
      ) AS "cohort",
      "t3"."start"
    FROM (
      SELECT
        "t2"."user_id",
        MIN("t2"."timestamp") AS "start"
      FROM (
        SELECT
          "t0"."user_id",
          "t0"."timestamp",
          "t0"."event",
          "t0"."platform",
          "t0"."screen",
          "t0"."revenue",
          DATEDIFF(
            DAY,
            DATE_FROM_PARTS(1970, 1, 1),
            TO_DATE(CONVERT_TIMEZONE('UTC', 'Europe/Berlin', "t0"."timestamp"))
          ) AS "cohort"
        FROM "events" AS "t0"
      ) AS "t2"
      GROUP BY
        1
    ) AS "t3"
  ) AS "t8"
  INNER JOIN (
    SELECT DISTINCT
      *
    FROM (
      SELECT
        "t1"."user_id" AS "r_user",
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
          "t0"."event" IN ('purchase')
      ) AS "t1"
    ) AS "t4"
  ) AS "t6"
    ON "t8"."user_id" = "t6"."r_user"
) AS "t9"
WHERE
  "t9"."offset" IN (1, 7, 30)
