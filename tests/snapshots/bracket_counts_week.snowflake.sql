WITH "t1" AS (
  SELECT
    *
  FROM "events" AS "t0"
  WHERE
    "t0"."timestamp" < TIMESTAMP_TZ_FROM_PARTS(2024, 4, 1, 0, 0, 0, 0, 'UTC')
), "t10" AS (
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
          "t2"."user_id",
          "t2"."timestamp",
          "t2"."event",
          "t2"."platform",
          "t2"."screen",
          "t2"."revenue",
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
          ) AS BIGINT) AS "cohort"
        FROM "t1" AS "t2"
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
      FROM "t1" AS "t2"
    ) AS "t4"
  ) AS "t6"
    ON "t9"."user_id" = "t6"."a_user" AND "t6"."period" >= "t9"."cohort"
)
SELECT
  *
FROM (
  SELECT
    "t14"."cohort",
    "t14"."segment",
    "t14"."members",
    0 AS "bracket"
  FROM (
    SELECT
      "t12"."cohort",
      "t12"."segment",
      COUNT(*) AS "members"
    FROM (
      SELECT DISTINCT
        "t11"."user_id",
        "t11"."cohort",
        "t11"."segment"
      FROM "t10" AS "t11"
      WHERE
        (
          "t11"."period" - "t11"."cohort"
        ) >= 1
        AND (
          "t11"."period" - "t11"."cohort"
        ) <= 1
    ) AS "t12"
    GROUP BY
      1,
      2
  ) AS "t14"
) AS "t16"
UNION ALL
SELECT
  *
FROM (
  SELECT
    "t15"."cohort",
    "t15"."segment",
    "t15"."members",
    1 AS "bracket"
  FROM (
    SELECT
      "t13"."cohort",
      "t13"."segment",
      COUNT(*) AS "members"
    FROM (
      SELECT DISTINCT
        "t11"."user_id",
        "t11"."cohort",
        "t11"."segment"
      FROM "t10" AS "t11"
      WHERE
        (
          "t11"."period" - "t11"."cohort"
        ) >= 2
        AND (
          "t11"."period" - "t11"."cohort"
        ) <= 4
    ) AS "t13"
    GROUP BY
      1,
      2
  ) AS "t15"
) AS "t17"
