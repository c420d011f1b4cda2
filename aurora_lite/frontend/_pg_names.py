"""What PostgreSQL calls things: its built-in function names, and the spelling of constructs
that sqlglot represents with its own node classes.

sqlglot normalises many dialects into one tree, so a node's class says little about what the
user wrote: ``string_agg`` arrives as GroupConcat, ``~`` as RegexpLike, ``date_trunc`` as
TimestampTrunc, and MySQL's ``ifnull`` as Coalesce. Error messages must name what the user
wrote, and must tell apart a PostgreSQL function this engine does not run (NotSupportedError,
0A000) from a name PostgreSQL does not have either (ProgrammingError, 42883). The binder reads
the name from the SQL text; this module says whether PostgreSQL knows it.

``PG_FUNCTIONS`` lists the built-in functions of PostgreSQL 16 (pg_proc names that users call,
including aggregates, window functions and set-returning functions), plus the SQL-standard
function-like keywords (CAST, EXTRACT, ...). It need not be complete: a PostgreSQL function
missing here is reported as not existing (42883) rather than not supported (0A000).
"""

from __future__ import annotations

_NAMES = """
abs acos acosd acosh age any_value area array_agg array_append array_cat array_dims array_fill
array_length array_lower array_ndims array_position array_positions array_prepend array_remove
array_replace array_sample array_shuffle array_to_json array_to_string array_to_tsvector
array_upper ascii asin asind asinh atan atan2 atan2d atand atanh avg bit_and bit_count
bit_length bit_or bit_xor bool_and bool_or bound_box box broadcast btrim cardinality cbrt ceil
ceiling center char_length character_length chr circle clock_timestamp coalesce col_description
concat concat_ws convert convert_from convert_to corr cos cosd cosh cot cotd count covar_pop
covar_samp crc32 crc32c cume_dist currval current_catalog current_database current_date
current_query current_role current_schema current_schemas current_setting current_time
current_timestamp current_user date date_add date_bin date_part date_subtract date_trunc
daterange decode degrees dense_rank diameter div encode erf erfc every exp extract factorial
family first_value float4 float8 floor format format_type gcd gen_random_uuid
generate_series generate_subscripts get_bit get_byte greatest grouping has_table_privilege
height host hostmask inet_client_addr inet_server_addr initcap int2 int4 int4range int8
int8range isempty isfinite json_agg json_array_elements json_array_elements_text
json_array_length json_build_array json_build_object json_each json_each_text
json_extract_path json_extract_path_text json_object json_object_agg json_object_keys
json_populate_record json_populate_recordset json_scalar json_serialize json_strip_nulls
json_to_record json_to_recordset json_typeof jsonb_agg jsonb_array_elements
jsonb_array_elements_text jsonb_array_length jsonb_build_array jsonb_build_object jsonb_each
jsonb_each_text jsonb_extract_path jsonb_extract_path_text jsonb_insert jsonb_object
jsonb_object_agg jsonb_object_keys jsonb_path_exists jsonb_path_match jsonb_path_query
jsonb_path_query_array jsonb_path_query_first jsonb_populate_record jsonb_populate_recordset
jsonb_pretty jsonb_set jsonb_set_lax jsonb_strip_nulls jsonb_to_record jsonb_to_recordset
jsonb_typeof justify_days justify_hours justify_interval lag last_value lastval lcm lead least
left length line ln localtime localtimestamp log log10 lower lower_inc lower_inf lpad lseg
ltrim make_date make_interval make_time make_timestamp make_timestamptz makeaclitem masklen
max md5 min min_scale mod mode multirange netmask network nextval normalize now nth_value
ntile num_nonnulls num_nulls numeric numrange nullif obj_description octet_length overlay
parse_ident path percent_rank percentile_cont percentile_disc pg_backend_pid pg_client_encoding
pg_column_size pg_current_xact_id pg_get_expr pg_get_indexdef pg_get_viewdef pg_is_in_recovery
pg_postmaster_start_time pg_relation_size pg_size_pretty pg_sleep pg_sleep_for pg_sleep_until
pg_table_size pg_total_relation_size pg_typeof phraseto_tsquery pi plainto_tsquery point
polygon position pow power quote_ident quote_literal quote_nullable radians radius random
random_normal range_agg range_intersect_agg range_merge rank regexp_count regexp_instr
regexp_like regexp_match regexp_matches regexp_replace regexp_split_to_array
regexp_split_to_table regexp_substr regr_avgx regr_avgy regr_count regr_intercept regr_r2
regr_slope regr_sxx regr_sxy regr_syy repeat replace reverse right round row_number
row_to_json rpad rtrim scale session_user set_bit set_byte set_config setseed setval setweight
sha224 sha256 sha384 sha512 sign sin sind sinh split_part sqrt starts_with statement_timestamp
stddev stddev_pop stddev_samp string_agg string_to_array string_to_table strip strpos substr
substring sum tan tand tanh text timeofday timestamp timezone to_ascii to_bin to_char to_date
to_hex to_json to_jsonb to_number to_oct to_regclass to_timestamp to_tsquery to_tsvector
transaction_timestamp translate trim trim_array trim_scale trunc ts_headline ts_rank ts_rank_cd
tsrange tstzrange txid_current unistr unnest upper upper_inc upper_inf user var_pop var_samp
variance version websearch_to_tsquery width width_bucket xmlagg xmlcomment xmlconcat
xmlelement xmlexists xmlforest xmlparse xmlpi xmlroot xmlserialize xpath xpath_exists
"""

# SQL keywords written like calls, which PostgreSQL's grammar handles itself.
_SYNTAX = "cast extract overlay position substring trim treat nullif coalesce greatest least " \
    "row array exists any all some grouping xmlelement xmlforest normalize"

PG_FUNCTIONS = frozenset(_NAMES.split()) | frozenset(_SYNTAX.split())

# sqlglot node classes that stand for an operator or a piece of syntax, not a call: what the
# user wrote, for messages. Negated forms (``!~``) are named by the binder.
CONSTRUCTS = {
    "RegexpLike": "the ~ operator (regular expression match)",
    "RegexpILike": "the ~* operator (case-insensitive regular expression match)",
    "SimilarTo": "SIMILAR TO",
    "BitwiseAnd": "the & operator", "BitwiseOr": "the | operator",
    "BitwiseXor": "the # operator", "BitwiseNot": "the ~ operator (bitwise not)",
    "BitwiseLeftShift": "the << operator", "BitwiseRightShift": "the >> operator",
    "JSONExtract": "the -> operator", "JSONExtractScalar": "the ->> operator",
    "JSONBExtract": "the #> operator", "JSONBExtractScalar": "the #>> operator",
    "JSONBContains": "the ? operator", "ArrayContainsAll": "the @> operator",
    "ArrayContainedBy": "the <@ operator", "ArrayOverlaps": "the && operator",
    "Collate": "COLLATE", "AtTimeZone": "AT TIME ZONE", "Operator": "OPERATOR(...)",
    "Filter": "FILTER (WHERE ...) on an aggregate",
    "WithinGroup": "WITHIN GROUP (ORDER BY ...)",
    "Interval": "interval values", "Array": "ARRAY constructors",
    "Bracket": "array subscripts", "Tuple": "row constructors (a, b)",
    "HexString": "bit-string literals (x'...')", "BitString": "bit-string literals (b'...')",
    "ByteString": "escape string literals (E'...')",
    "UnicodeString": "Unicode escape strings (U&'...')",
    "Rollup": "ROLLUP", "Cube": "CUBE", "GroupingSets": "GROUPING SETS",
    "CurrentUser": "CURRENT_USER", "CurrentRole": "CURRENT_ROLE",
    "CurrentSchema": "CURRENT_SCHEMA", "CurrentCatalog": "CURRENT_CATALOG",
    "SessionUser": "SESSION_USER", "CurrentTime": "CURRENT_TIME", "Localtime": "LOCALTIME",
    "Distinct": "DISTINCT here",
}


def is_pg_function(name: str) -> bool:
    """True when PostgreSQL has a built-in function (or function-like syntax) ``name``."""
    return name.lower() in PG_FUNCTIONS


__all__ = ["CONSTRUCTS", "PG_FUNCTIONS", "is_pg_function"]
