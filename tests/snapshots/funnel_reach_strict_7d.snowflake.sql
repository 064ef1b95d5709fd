WITH "t4" AS (
  SELECT
    "t1"."user_id",
    "t1"."timestamp",
    "t1"."event",
    "t1"."platform",
    "t1"."screen",
    "t1"."revenue",
    "t1"."_ts",
    "t1"."_seq",
    ROW_NUMBER() OVER (PARTITION BY "t1"."user_id" ORDER BY "t1"."_ts" ASC, "t1"."_seq" ASC) - 1 AS "_rank"
  FROM (
    SELECT
      "t0"."user_id",
      "t0"."timestamp",
      "t0"."event",
      "t0"."platform",
      "t0"."screen",
      "t0"."revenue",
      "t0"."timestamp" AS "_ts",
      0 AS "_seq"
    FROM "events" AS "t0"
    WHERE
      "t0"."event" = 'app_open'
  ) AS "t1"
), "t11" AS (
  SELECT
    "t10"."e_user",
    "t10"."e_t1",
    MIN(
      IFF(
        COALESCE("t10"."_n1", FALSE) AND (
          "t10"."_t1" <= "t10"."e_deadline"
        ),
        "t10"."_t1",
        NULL
      )
    ) AS "r1",
    MIN(
      IFF(
        COALESCE("t10"."_n1", FALSE)
        AND (
          "t10"."_t1" <= "t10"."e_deadline"
        )
        AND (
          COALESCE("t10"."_n2", FALSE) AND (
            "t10"."_t2" <= "t10"."e_deadline"
          )
        ),
        "t10"."_t2",
        NULL
      )
    ) AS "r2"
  FROM (
    SELECT
      "t5"."user_id",
      "t5"."timestamp",
      "t5"."event",
      "t5"."platform",
      "t5"."screen",
      "t5"."revenue",
      "t5"."_ts",
      "t5"."_seq",
      "t5"."_m0",
      "t5"."_m1",
      "t5"."_m2",
      "t5"."_n1",
      "t5"."_t1",
      "t5"."_n2",
      "t5"."_t2",
      "t9"."e_user",
      "t9"."e_t1",
      "t9"."e_deadline"
    FROM (
      SELECT
        "t2"."user_id",
        "t2"."timestamp",
        "t2"."event",
        "t2"."platform",
        "t2"."screen",
        "t2"."revenue",
        "t2"."_ts",
        "t2"."_seq",
        "t2"."_m0",
        "t2"."_m1",
        "t2"."_m2",
        LEAD("t2"."_m1", 1) OVER (PARTITION BY "t2"."user_id" ORDER BY "t2"."_ts" ASC, "t2"."_seq" ASC) AS "_n1",
        LEAD("t2"."_ts", 1) OVER (PARTITION BY "t2"."user_id" ORDER BY "t2"."_ts" ASC, "t2"."_seq" ASC) AS "_t1",
        LEAD("t2"."_m2", 2) OVER (PARTITION BY "t2"."user_id" ORDER BY "t2"."_ts" ASC, "t2"."_seq" ASC) AS "_n2",
        LEAD("t2"."_ts", 2) OVER (PARTITION BY "t2"."user_id" ORDER BY "t2"."_ts" ASC, "t2"."_seq" ASC) AS "_t2"
      FROM (
        SELECT
          "t0"."user_id",
          "t0"."timestamp",
          "t0"."event",
          "t0"."platform",
          "t0"."screen",
          "t0"."revenue",
          "t0"."timestamp" AS "_ts",
          0 AS "_seq",
          "t0"."event" = 'app_open' AS "_m0",
          "t0"."event" = 'add_to_cart' AS "_m1",
          "t0"."event" = 'purchase' AS "_m2"
        FROM "events" AS "t0"
      ) AS "t2"
    ) AS "t5"
    INNER JOIN (
      SELECT
        "t6"."user_id" AS "e_user",
        "t6"."_ts" AS "e_t1",
        DATEADD(SECOND, '604800', "t6"."_ts") AS "e_deadline"
      FROM "t4" AS "t6"
      WHERE
        "t6"."_rank" = 0
    ) AS "t9"
      ON "t5"."user_id" = "t9"."e_user" AND "t5"."_m0" AND "t5"."_ts" <= "t9"."e_deadline"
  ) AS "t10"
  GROUP BY
    1,
    2
)
SELECT
  *
FROM (
  SELECT
    "t12"."e_user" AS "user_id",
    3 AS "step",
    DATEDIFF(MICROSECOND, "t12"."e_t1", "t12"."r2") AS "elapsed_us"
  FROM "t11" AS "t12"
  WHERE
    "t12"."r2" IS NOT NULL
) AS "t13"
UNION ALL
SELECT
  *
FROM (
  SELECT
    *
  FROM (
    SELECT
      "t6"."user_id",
      1 AS "step",
      CAST(0 AS BIGINT) AS "elapsed_us"
    FROM "t4" AS "t6"
    WHERE
      "t6"."_rank" = 0
  ) AS "t7"
  UNION ALL
  SELECT
    *
  FROM (
    SELECT
      "t12"."e_user" AS "user_id",
      2 AS "step",
      DATEDIFF(MICROSECOND, "t12"."e_t1", "t12"."r1") AS "elapsed_us"
    FROM "t11" AS "t12"
    WHERE
      "t12"."r1" IS NOT NULL
  ) AS "t14"
) AS "t15"
