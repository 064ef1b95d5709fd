SELECT
  "t1"."_value",
  COUNT(*) AS "events",
  COUNT(DISTINCT "t1"."user_id") AS "users"
FROM (
  SELECT
    "t0"."user_id",
    "t0"."timestamp",
    "t0"."event",
    "t0"."platform",
    "t0"."screen",
    "t0"."revenue",
    COALESCE("t0"."platform", '(missing)') AS "_value"
  FROM "events" AS "t0"
) AS "t1"
GROUP BY
  1
