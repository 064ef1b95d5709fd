SELECT DISTINCT
  *
FROM (
  SELECT
    "t8"."user_id" AS "user_id",
    "t6"."period" - "t8"."cohort" AS "offset"
  FROM (
    SELECT
      "t3"."user_id" AS "user_id",
      DATE_DIFF(
        DAY,
        toDate(
          CONCAT(toString(1970), '-', LPAD(toString(1), 2, '0'), '-', LPAD(toString(1), 2, '0'))
        ),
        toDate(toTimeZone("t3"."start", 'Europe/Berlin'))
      ) AS "cohort",
      "t3"."start" AS "start"
    FROM (
      SELECT
        "t2"."user_id" AS "user_id",
        MIN("t2"."timestamp") AS "start"
      FROM (
        SELECT
          "t0"."user_id" AS "user_id",
          "t0"."timestamp" AS "timestamp",
          "t0"."event" AS "event",
          "t0"."platform" AS "platform",
          "t0"."screen" AS "screen",
          "t0"."revenue" AS "revenue",
          DATE_DIFF(
            DAY,
            toDate(
              CONCAT(toString(1970), '-', LPAD(toString(1), 2, '0'), '-', LPAD(toString(1), 2, '0'))
            ),
            toDate(toTimeZone("t0"."timestamp", 'Europe/Berlin'))
          ) AS "cohort"
        FROM "events" AS "t0"
      ) AS "t2"
      GROUP BY
        "t2"."user_id"
    ) AS "t3"
  ) AS "t8"
  INNER JOIN (
    SELECT DISTINCT
      *
    FROM (
      SELECT
        "t1"."user_id" AS "r_user",
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
          "t0"."event" IN ('purchase')
      ) AS "t1"
    ) AS "t4"
  ) AS "t6"
    ON "t8"."user_id" = "t6"."r_user"
) AS "t9"
WHERE
  "t9"."offset" IN (1, 7, 30)
