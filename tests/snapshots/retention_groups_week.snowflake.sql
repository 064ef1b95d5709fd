SELECT
  "t4"."cohort",
  "t4"."segment",
  COUNT(*) AS "members"
FROM (
  SELECT
    "t3"."user_id",
    "t3"."cohort",
    "t3"."timestamp" AS "start",
    COALESCE("t3"."platform", '(missing)') AS "segment"
  FROM (
    SELECT
      "t2"."user_id",
      "t2"."timestamp",
      "t2"."event",
      "t2"."platform",
      "t2"."screen",
      "t2"."revenue",
      "t2"."cohort",
      ROW_NUMBER() OVER (PARTITION BY "t2"."user_id" ORDER BY "t2"."timestamp" ASC) - 1 AS "_rank"
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
    ) AS "t2"
  ) AS "t3"
  WHERE
    "t3"."_rank" = 0
) AS "t4"
GROUP BY
  1,
  2
