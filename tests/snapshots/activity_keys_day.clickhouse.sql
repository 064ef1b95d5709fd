SELECT DISTINCT
  *
FROM (
  SELECT
    "t0"."user_id" AS "user_id",
    DATE_DIFF(
      DAY,
      toDate(
        CONCAT(toString(1970), '-', LPAD(toString(1), 2, '0'), '-', LPAD(toString(1), 2, '0'))
      ),
      toDate(toTimeZone("t0"."timestamp", 'Europe/Berlin'))
    ) AS "period",
    COALESCE("t0"."platform", '(missing)') AS "segment"
  FROM "events" AS "t0"
) AS "t1"
