SELECT DISTINCT
  *
FROM (
  SELECT
    "t0"."user_id",
    DATEDIFF(
      DAY,
      DATE_FROM_PARTS(1970, 1, 1),
      TO_DATE(CONVERT_TIMEZONE('UTC', 'Europe/Berlin', "t0"."timestamp"))
    ) AS "period",
    COALESCE("t0"."platform", '(missing)') AS "segment"
  FROM "events" AS "t0"
) AS "t1"
