/*-------------------------------------------------------------------------
 *
 * load.c
 *	  globalkv.load_parse: the lines of a bulk load (`globalkv load`), parsed
 *	  and checked in C, grouped for kv.put_many.
 *
 * kv.load_lines (sql/udfs/load_lines) used to parse each JSON line in
 * PL/pgSQL, in a subtransaction of its own so that a bad line could be
 * named, and to pick each TTL's keys out of arrays by subscript -- 70 % of
 * a batch's time went there.  Here one call checks every line without
 * raising (the JSON syntax through PostgreSQL's own parser, then the shape,
 * the key and the document with the same checks kv.put makes) and returns
 *
 *	 - one row per bad line: its number and why, and
 *	 - one row per distinct TTL: the keys, values and line numbers to put.
 *
 * A key that occurs twice in a batch is put once, with its last line: in
 * one transaction the earlier put could never be seen, and grouping by TTL
 * would otherwise be free to write the two in the wrong order.
 *
 * What the syntax check cannot see without building the document (a \u0000
 * or a broken surrogate pair in a string, a number beyond numeric's range,
 * nesting deeper than the stack allows) still raises; kv.load_lines then
 * finds that line by parsing the batch one line at a time.
 *
 * src/commands/load.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/jsonapi.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "parser/scansup.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "globalkv/errcodes.h"
#include "globalkv/storage.h"

PG_FUNCTION_INFO_V1(gkv_load_parse);

#define LINE_SHAPE_ERROR \
	"expected {\"key\": \"text\", \"value\": any JSON, \"ttl\": whole seconds >= 1 (optional)}"

/* the longest TTL kv.put takes (ExpiryFromSeconds in api.c): a century */
#define MAX_TTL_SECONDS (INT64CONST(100) * 366 * SECS_PER_DAY)

/* a good line, waiting to be grouped */
typedef struct LoadLine
{
	int64		line;			/* in the file */
	text	   *key;
	Jsonb	   *value;
	bool		has_ttl;
	int64		ttl;
	bool		superseded;		/* a later line has the same key */
} LoadLine;

static int
LoadLineKeyCompare(const void *a, const void *b)
{
	const LoadLine *x = *(LoadLine *const *) a;
	const LoadLine *y = *(LoadLine *const *) b;
	int			c = GkvKeyCompare(x->key, y->key);

	if (c != 0)
		return c;
	return (x->line > y->line) - (x->line < y->line);
}

/*
 * TtlOf reads the optional "ttl" of a line: false when it is there but is
 * not a whole number of seconds in 1 .. MAX_TTL_SECONDS.
 */
static bool
TtlOf(Jsonb *doc, LoadLine *out)
{
	JsonbValue	v;
	Datum		num;

	out->has_ttl = false;
	if (getKeyJsonValueFromContainer(&doc->root, "ttl", 3, &v) == NULL)
		return true;
	if (v.type != jbvNumeric)
		return false;
	num = NumericGetDatum(v.val.numeric);
	if (!DatumGetBool(DirectFunctionCall2(numeric_eq, num,
										  DirectFunctionCall2(numeric_trunc, num, Int32GetDatum(0)))))
		return false;
	if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, num,
										  NumericGetDatum(int64_to_numeric(1)))) < 0 ||
		DatumGetInt32(DirectFunctionCall2(numeric_cmp, num,
										  NumericGetDatum(int64_to_numeric(MAX_TTL_SECONDS)))) > 0)
		return false;
	out->has_ttl = true;
	out->ttl = DatumGetInt64(DirectFunctionCall1(numeric_int8, num));
	return true;
}

/*
 * ParseLine checks one line; returns NULL and fills *out when it is good,
 * else why it is not.  Everything is allocated in the current context.
 */
static const char *
ParseLine(text *line, LoadLine *out)
{
	char	   *str = text_to_cstring(line);
	int			len = strlen(str);
	/* syntax only: jsonb_in below decodes the escapes (once) */
	JsonLexContext *lex = makeJsonLexContextCstringLen(str, len, GetDatabaseEncoding(), false);
	JsonParseErrorType parsed = pg_parse_json(lex, &nullSemAction);
	Jsonb	   *doc;
	JsonbValue	v;
	GkvInputProblem problem;

	if (parsed != JSON_SUCCESS)
		return psprintf("not JSON: %s", json_errdetail(parsed, lex));
	doc = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(str)));
	if (!JB_ROOT_IS_OBJECT(doc) || JB_ROOT_IS_SCALAR(doc))
		return LINE_SHAPE_ERROR;
	if (getKeyJsonValueFromContainer(&doc->root, "key", 3, &v) == NULL || v.type != jbvString)
		return LINE_SHAPE_ERROR;
	out->key = cstring_to_text_with_len(v.val.string.val, v.val.string.len);
	if (getKeyJsonValueFromContainer(&doc->root, "value", 5, &v) == NULL)
		return LINE_SHAPE_ERROR;
	out->value = JsonbValueToJsonb(&v);
	if (!TtlOf(doc, out))
		return LINE_SHAPE_ERROR;
	if (GkvKeyProblem(out->key, &problem) || GkvDocumentProblem(out->value, &problem))
		return problem.message;
	return NULL;
}

/* a line with nothing but white space is skipped, not reported */
static bool
IsBlank(text *line)
{
	const char *p = VARDATA_ANY(line);
	int			len = VARSIZE_ANY_EXHDR(line);

	for (int i = 0; i < len; i++)
		if (!scanner_isspace(p[i]))
			return false;
	return true;
}

/*
 * globalkv.load_parse(first_line bigint, lines text[])
 *	 -> (ttl bigint, keys text[], vals jsonb[], nums bigint[], bad_line bigint, error text)
 */
Datum
gkv_load_parse(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int64		first_line = PG_GETARG_INT64(0);
	ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(1);
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			ngood = 0;
	LoadLine   *good;
	LoadLine  **by_key;
	bool	   *grouped;

	GkvDeconstructBatch(arr, "lines", &elems, &nulls, &n);
	InitMaterializedSRF(fcinfo, 0);

	good = palloc(sizeof(LoadLine) * (n + 1));
	for (int i = 0; i < n; i++)
	{
		const char *why;
		Datum		values[6];
		bool		isnull[6] = {true, true, true, true, false, false};

		CHECK_FOR_INTERRUPTS();
		if (nulls[i] || IsBlank(DatumGetTextPP(elems[i])))
			continue;
		why = ParseLine(DatumGetTextPP(elems[i]), &good[ngood]);
		if (why == NULL)
		{
			good[ngood].line = first_line + i;
			good[ngood].superseded = false;
			ngood++;
			continue;
		}
		values[4] = Int64GetDatum(first_line + i);
		values[5] = PointerGetDatum(cstring_to_text(why));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, isnull);
	}

	/* the same key twice: only its last line is put */
	by_key = palloc(sizeof(LoadLine *) * (ngood + 1));
	for (int i = 0; i < ngood; i++)
		by_key[i] = &good[i];
	qsort(by_key, ngood, sizeof(LoadLine *), LoadLineKeyCompare);
	for (int i = 0; i + 1 < ngood; i++)
		if (GkvKeyCompare(by_key[i]->key, by_key[i + 1]->key) == 0)
			by_key[i]->superseded = true;

	/* one row per distinct TTL, lines in file order within it */
	grouped = palloc0(sizeof(bool) * (ngood + 1));
	for (int first = 0; first < ngood; first++)
	{
		ArrayBuildState *keys,
				   *vals,
				   *nums;
		Datum		values[6];
		bool		isnull[6] = {false, false, false, false, true, true};

		if (grouped[first] || good[first].superseded)
			continue;
		keys = initArrayResult(TEXTOID, CurrentMemoryContext, false);
		vals = initArrayResult(JSONBOID, CurrentMemoryContext, false);
		nums = initArrayResult(INT8OID, CurrentMemoryContext, false);
		for (int i = first; i < ngood; i++)
		{
			if (grouped[i] || good[i].superseded || good[i].has_ttl != good[first].has_ttl ||
				(good[i].has_ttl && good[i].ttl != good[first].ttl))
				continue;
			grouped[i] = true;
			accumArrayResult(keys, PointerGetDatum(good[i].key), false, TEXTOID, CurrentMemoryContext);
			accumArrayResult(vals, JsonbPGetDatum(good[i].value), false, JSONBOID, CurrentMemoryContext);
			accumArrayResult(nums, Int64GetDatum(good[i].line), false, INT8OID, CurrentMemoryContext);
		}
		values[0] = Int64GetDatum(good[first].ttl);
		isnull[0] = !good[first].has_ttl;
		values[1] = makeArrayResult(keys, CurrentMemoryContext);
		values[2] = makeArrayResult(vals, CurrentMemoryContext);
		values[3] = makeArrayResult(nums, CurrentMemoryContext);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, isnull);
	}
	return (Datum) 0;
}
