SELECT
  "t3"."user_id" AS "user_id",
  CAST(FLOOR(
    (
      DATE_DIFF(
        DAY,
        toDate(
          CONCAT(toString(1970), '-', LPAD(toString(1), 2, '0'), '-', LPAD(toString(1), 2, '0'))
        ),
        toDate(toTimeZone("t3"."start", 'Europe/Berlin'))
      ) + 3
    ) / (
      7
    )
  ) AS Nullable(Int64)) AS "cohort",
  "t3"."start" AS "start"
FROM (
  SELECT
    "t2"."user_id" AS "user_id",
    MIN("t2"."timestamp") AS "start"
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
        "t0"."event" IN ('app_open')
    ) AS "t1"
  ) AS "t2"
  GROUP BY
    "t2"."user_id"
) AS "t3"
