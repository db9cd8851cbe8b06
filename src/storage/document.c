/*-------------------------------------------------------------------------
 *
 * document.c
 *	  A document's state, the counter CRDT, and GkvDocMerge: the one
 *	  function that decides every write, local or replicated.
 *
 * THE MERGE RULE (docs/merge-rule.md has the long form and the proof)
 *
 * A document state is a join-semilattice element; GkvDocMerge computes the
 * join, so merging is commutative, associative and idempotent, and every
 * copy that has seen the same set of writes holds the same state whatever
 * the order or duplication of delivery.
 *
 *	- version: the greater (hlc, origin) of the two, lexicographically.  The
 *	  expiry travels with the version: the state's expiry is the one written
 *	  by the operation that carries the greatest version.
 *	- reset: the version of the last full put or delete.  The greater reset
 *	  supplies the base document (all non-counter fields).
 *	- counter fields: every top-level field that patch_numeric touched since
 *	  the reset has an epoch (the reset or field-removal that began its
 *	  current life), a base value at that epoch, and one contribution per
 *	  origin node: (origin's hlc at its last change, running sum).  For each
 *	  field the greater epoch wins; on equal epochs the contributions are
 *	  merged origin by origin, keeping the one with the greater hlc (an
 *	  origin is the only writer of its own entry, so its hlc orders them).
 *	  Fields whose epoch is older than the winning reset are dropped: a put
 *	  or delete resets every counter it did not see.
 *	- the field's value is base + sum of contributions (base 0 when absent).
 *
 * A put is the state (value, version, reset = version, no counters); a delete
 * the same with no value; a patch_numeric is a delta state holding only the
 * patching node's new contribution for each offset (or a new epoch for a
 * null offset, which removes the field).  So concurrent increments from
 * different zones all survive, and no operation needs special-casing in
 * replication.
 *
 * src/storage/document.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>

#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/memutils.h"

#include "globalkv/clock.h"
#include "globalkv/errcodes.h"
#include "globalkv/storage.h"

#define GKV_CRDT_FORMAT 1
#define GKV_CRDT_FLAG_RESET_DELETED 0x01

/* ----------------------------------------------------------------
 * Versions as text
 * ----------------------------------------------------------------
 */

/* a version as the API shows it: "<hlc>:<origin node id>" */
text *
GkvVersionToText(GkvVersion v)
{
	char		buf[64];

	snprintf(buf, sizeof(buf), UINT64_FORMAT ":%d", v.hlc, v.origin);
	return cstring_to_text(buf);
}

/* the version of that text; GK015 when it is not one */
GkvVersion
GkvVersionFromText(text *t)
{
	char	   *s = text_to_cstring(t);
	GkvVersion	v;
	unsigned long long hlc;
	int			origin;
	int			consumed = 0;

	if (sscanf(s, "%llu:%d%n", &hlc, &origin, &consumed) != 2 ||
		s[consumed] != '\0' || s[0] == '-' || origin <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_GKV_INVALID_VERSION),
				 errmsg("invalid version \"%s\"", s),
				 errdetail("A version looks like \"<hlc>:<origin node id>\", as kv.get_versioned returns it.")));
	v.hlc = hlc;
	v.origin = origin;
	pfree(s);
	return v;
}

/* ----------------------------------------------------------------
 * Small helpers
 * ----------------------------------------------------------------
 */

static int
FieldNameCompare(const char *a, int alen, const char *b, int blen)
{
	int			c = memcmp(a, b, Min(alen, blen));

	if (c != 0)
		return c;
	return (alen > blen) - (alen < blen);
}

static Numeric
NumericAdd(Numeric a, Numeric b)
{
	return DatumGetNumeric(DirectFunctionCall2(numeric_add,
											   NumericGetDatum(a),
											   NumericGetDatum(b)));
}

static int
NumericCompare(Numeric a, Numeric b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp,
											 NumericGetDatum(a),
											 NumericGetDatum(b)));
}

static Numeric
NumericZero(void)
{
	return int64_to_numeric(0);
}

/* the largest magnitude a counter may reach: that of a finite IEEE double */
static Numeric
CounterLimit(void)
{
	static Numeric limit = NULL;

	if (limit == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		limit = DatumGetNumeric(DirectFunctionCall3(numeric_in,
													CStringGetDatum("1.7976931348623157e308"),
													ObjectIdGetDatum(InvalidOid),
													Int32GetDatum(-1)));
		MemoryContextSwitchTo(old);
	}
	return limit;
}

GkvVersion
GkvDocResetVersion(const GkvDocState *doc, bool *deleted)
{
	if (doc->crdt != NULL)
	{
		*deleted = doc->crdt->reset_deleted;
		return doc->crdt->reset;
	}
	*deleted = (doc->value == NULL);
	return doc->version;
}

bool
GkvDocIsExpiredAt(const GkvDocState *doc, int64 unix_ms)
{
	return doc->has_expiry && GkvTimestampToUnixMs(doc->expires_at) <= unix_ms;
}

bool
GkvDocIsLive(const GkvDocState *doc, int64 unix_ms)
{
	return doc->value != NULL && !GkvDocIsExpiredAt(doc, unix_ms);
}

static GkvCounterField *
FindField(const GkvCounterState *crdt, const char *name, int namelen)
{
	int			lo = 0,
				hi;

	if (crdt == NULL)
		return NULL;
	hi = crdt->nfields - 1;
	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		int			c = FieldNameCompare(crdt->fields[mid].name, crdt->fields[mid].namelen,
										 name, namelen);

		if (c == 0)
			return &crdt->fields[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

static bool
FieldIsPresent(const GkvCounterField *f)
{
	return f->base != NULL || f->ncontrib > 0;
}

static Numeric
FieldTotal(const GkvCounterField *f)
{
	Numeric		total = f->base ? f->base : NumericZero();

	for (int i = 0; i < f->ncontrib; i++)
		total = NumericAdd(total, f->contrib[i].sum);
	return total;
}

/*
 * BaseFieldValue returns the numeric value of a top-level field in a base
 * document, NULL when absent.  A present non-numeric field is an error for
 * patch_numeric, reported here because only patch asks.
 */
static Numeric
BaseFieldValue(Jsonb *value, const char *name, int namelen)
{
	JsonbValue *v;

	if (value == NULL)
		return NULL;
	v = getKeyJsonValueFromContainer(&value->root, name, namelen, NULL);
	if (v == NULL)
		return NULL;
	if (v->type != jbvNumeric)
		ereport(ERROR,
				(errcode(ERRCODE_GKV_FIELD_NOT_NUMERIC),
				 errmsg("field \"%.*s\" is not a number", namelen, name),
				 errhint("kv.patch_numeric adds only to numeric fields; use kv.put to replace the field.")));
	return v->val.numeric;
}

/* ----------------------------------------------------------------
 * Materializing the document from a base and the counter state
 * ----------------------------------------------------------------
 */

/*
 * Materialize builds the document a read returns: the base's fields that are
 * not counters, then every present counter field with its total.  Returns
 * NULL when there is nothing (deleted base, no present counter).
 */
static Jsonb *
Materialize(Jsonb *base, const GkvCounterState *crdt)
{
	JsonbParseState *ps = NULL;
	JsonbValue *res;
	int			npresent = 0;

	for (int i = 0; i < crdt->nfields; i++)
		if (FieldIsPresent(&crdt->fields[i]))
			npresent++;
	if (base == NULL && npresent == 0)
		return NULL;

	pushJsonbValue(&ps, WJB_BEGIN_OBJECT, NULL);
	if (base != NULL)
	{
		JsonbIterator *it = JsonbIteratorInit(&base->root);
		JsonbValue	v;
		JsonbIteratorToken tok;

		tok = JsonbIteratorNext(&it, &v, true);
		Assert(tok == WJB_BEGIN_OBJECT);
		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			JsonbValue	k;

			if (tok != WJB_KEY)
				continue;
			k = v;
			tok = JsonbIteratorNext(&it, &v, true);
			Assert(tok == WJB_VALUE);
			if (FindField(crdt, k.val.string.val, k.val.string.len) != NULL)
				continue;
			pushJsonbValue(&ps, WJB_KEY, &k);
			pushJsonbValue(&ps, WJB_VALUE, &v);
		}
	}
	for (int i = 0; i < crdt->nfields; i++)
	{
		const GkvCounterField *f = &crdt->fields[i];
		JsonbValue	k,
					v;

		if (!FieldIsPresent(f))
			continue;
		k.type = jbvString;
		k.val.string.val = f->name;
		k.val.string.len = f->namelen;
		v.type = jbvNumeric;
		v.val.numeric = FieldTotal(f);
		pushJsonbValue(&ps, WJB_KEY, &k);
		pushJsonbValue(&ps, WJB_VALUE, &v);
	}
	res = pushJsonbValue(&ps, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(res);
}

/*
 * BaseDocument returns the base (non-counter part) of a state's reset: its
 * materialized value with counter fields restored to their base values is
 * not needed, because Materialize overrides every counter field anyway.
 * A deleted reset has no base.
 */
static Jsonb *
BaseDocument(const GkvDocState *doc)
{
	bool		deleted;

	(void) GkvDocResetVersion(doc, &deleted);
	return deleted ? NULL : doc->value;
}

/* ----------------------------------------------------------------
 * The merge
 * ----------------------------------------------------------------
 */

/*
 * EffectiveField describes a side's view of one field: its entry when it has
 * one, or else "base value of its reset, no contributions".
 */
static void
EffectiveField(const GkvDocState *doc, const char *name, int namelen,
			   GkvCounterField *out)
{
	GkvCounterField *f = FindField(doc->crdt, name, namelen);
	bool		deleted;

	if (f != NULL)
	{
		*out = *f;
		return;
	}
	out->name = (char *) name;
	out->namelen = namelen;
	out->epoch = GkvDocResetVersion(doc, &deleted);
	out->base = NULL;
	if (!deleted && doc->value != NULL)
	{
		JsonbValue *v = getKeyJsonValueFromContainer(&doc->value->root,
													 name, namelen, NULL);

		if (v != NULL && v->type == jbvNumeric)
			out->base = v->val.numeric;
	}
	out->ncontrib = 0;
	out->contrib = NULL;
}

static void
MergeContributions(const GkvCounterField *a, const GkvCounterField *b,
				   GkvCounterField *out)
{
	int			i = 0,
				j = 0,
				n = 0;

	out->contrib = palloc(sizeof(GkvContribution) * (a->ncontrib + b->ncontrib + 1));
	while (i < a->ncontrib || j < b->ncontrib)
	{
		if (j >= b->ncontrib ||
			(i < a->ncontrib && a->contrib[i].origin < b->contrib[j].origin))
			out->contrib[n++] = a->contrib[i++];
		else if (i >= a->ncontrib || b->contrib[j].origin < a->contrib[i].origin)
			out->contrib[n++] = b->contrib[j++];
		else
		{
			const GkvContribution *x = &a->contrib[i++];
			const GkvContribution *y = &b->contrib[j++];

			/* same origin: its later write wins; equal hlc means equal op */
			if (y->hlc > x->hlc ||
				(y->hlc == x->hlc && NumericCompare(y->sum, x->sum) > 0))
				out->contrib[n++] = *y;
			else
				out->contrib[n++] = *x;
		}
	}
	out->ncontrib = n;
}

static bool
CounterStateEqual(const GkvCounterState *a, const GkvCounterState *b)
{
	bytea	   *sa,
			   *sb;

	if (a == NULL || b == NULL)
		return a == b;
	sa = GkvCounterStateSerialize(a);
	sb = GkvCounterStateSerialize(b);
	return VARSIZE(sa) == VARSIZE(sb) && memcmp(sa, sb, VARSIZE(sa)) == 0;
}

static bool
JsonbEqual(Jsonb *a, Jsonb *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return VARSIZE(a) == VARSIZE(b) && memcmp(a, b, VARSIZE(a)) == 0;
}

static bool
DocStateEqual(const GkvDocState *a, const GkvDocState *b)
{
	return GkvVersionCompare(a->version, b->version) == 0 &&
		a->has_expiry == b->has_expiry &&
		(!a->has_expiry || a->expires_at == b->expires_at) &&
		CounterStateEqual(a->crdt, b->crdt) &&
		JsonbEqual(a->value, b->value);
}

/*
 * GkvDocMerge computes the join of the stored state (NULL when the key has
 * no row) and an incoming state into *result, and returns true when the
 * result differs from the stored state (false: the incoming write is
 * already covered, a "conflict" that the stored state won).
 *
 * The result may point into either input; the caller owns all three.
 */
bool
GkvDocMerge(const GkvDocState *stored, const GkvDocState *incoming,
			GkvDocState *result)
{
	static const GkvDocState empty = {NULL, {0, 0}, false, 0, NULL};
	const GkvDocState *a = stored ? stored : &empty;
	const GkvDocState *b = incoming;
	const GkvDocState *newer;
	const GkvDocState *winner;
	GkvVersion	ra,
				rb;
	bool		da,
				db;
	GkvCounterState *merged;
	int			na,
				nb,
				i,
				j;

	newer = GkvVersionCompare(b->version, a->version) > 0 ? b : a;

	/* plain last-writer-wins when neither side carries counters */
	if (a->crdt == NULL && b->crdt == NULL)
	{
		*result = *newer;
		return stored == NULL || newer == b;
	}

	ra = GkvDocResetVersion(a, &da);
	rb = GkvDocResetVersion(b, &db);
	winner = GkvVersionCompare(rb, ra) > 0 ? b : a;

	merged = palloc0(sizeof(GkvCounterState));
	merged->reset = winner == b ? rb : ra;
	merged->reset_deleted = winner == b ? db : da;

	na = a->crdt ? a->crdt->nfields : 0;
	nb = b->crdt ? b->crdt->nfields : 0;
	merged->fields = palloc(sizeof(GkvCounterField) * (na + nb + 1));

	/* walk the union of field names in sorted order */
	i = j = 0;
	while (i < na || j < nb)
	{
		const char *name;
		int			namelen,
					c;
		GkvCounterField fa,
					fb,
					out;
		int			ec;

		if (i >= na)
			c = 1;
		else if (j >= nb)
			c = -1;
		else
			c = FieldNameCompare(a->crdt->fields[i].name, a->crdt->fields[i].namelen,
								 b->crdt->fields[j].name, b->crdt->fields[j].namelen);
		if (c <= 0)
		{
			name = a->crdt->fields[i].name;
			namelen = a->crdt->fields[i].namelen;
		}
		else
		{
			name = b->crdt->fields[j].name;
			namelen = b->crdt->fields[j].namelen;
		}
		if (c <= 0)
			i++;
		if (c >= 0)
			j++;

		EffectiveField(a, name, namelen, &fa);
		EffectiveField(b, name, namelen, &fb);
		ec = GkvVersionCompare(fa.epoch, fb.epoch);
		if (ec > 0)
			out = fa;
		else if (ec < 0)
			out = fb;
		else
		{
			out = fa;
			if (out.base == NULL)
				out.base = fb.base;
			MergeContributions(&fa, &fb, &out);
		}
		out.name = (char *) name;
		out.namelen = namelen;

		/* a field of an older life than the winning reset is gone */
		if (GkvVersionCompare(out.epoch, merged->reset) < 0)
			continue;
		/* a field still equal to the reset's base needs no entry */
		if (GkvVersionCompare(out.epoch, merged->reset) == 0 && out.ncontrib == 0)
			continue;
		merged->fields[merged->nfields++] = out;
	}

	result->version = newer->version;
	result->has_expiry = newer->has_expiry;
	result->expires_at = newer->expires_at;
	result->value = Materialize(merged->reset_deleted ? NULL : BaseDocument(winner),
								merged);
	/* the counter state can be left out only when it says nothing */
	if (merged->nfields == 0 && GkvVersionCompare(merged->reset, result->version) == 0)
		result->crdt = NULL;
	else
		result->crdt = merged;

	return stored == NULL || !DocStateEqual(stored, result);
}

/* ----------------------------------------------------------------
 * patch_numeric as a delta state
 * ----------------------------------------------------------------
 */

/*
 * GkvValidateOffsets checks that offsets is an object whose values are
 * finite numbers or null.
 */
void
GkvValidateOffsets(Jsonb *offsets)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;

	if (!JB_ROOT_IS_OBJECT(offsets) || JB_ROOT_IS_SCALAR(offsets))
		ereport(ERROR,
				(errcode(ERRCODE_GKV_INVALID_OFFSET),
				 errmsg("offsets must be a JSON object"),
				 errdetail("Example: {\"clicks\": 1, \"score\": -0.25, \"obsolete\": null}.")));
	it = JsonbIteratorInit(&offsets->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok != WJB_VALUE)
			continue;
		if (v.type == jbvNull)
			continue;
		if (v.type != jbvNumeric)
			ereport(ERROR,
					(errcode(ERRCODE_GKV_INVALID_OFFSET),
					 errmsg("offset is not a number"),
					 errdetail("Each offset must be a number, or null to remove the field.")));
		if (numeric_is_nan(v.val.numeric) || numeric_is_inf(v.val.numeric))
			ereport(ERROR,
					(errcode(ERRCODE_GKV_INVALID_OFFSET),
					 errmsg("offset is not a finite number")));
	}
}

static void
CheckCounterRange(const char *name, int namelen, Numeric total)
{
	Numeric		limit = CounterLimit();
	Numeric		magnitude = DatumGetNumeric(DirectFunctionCall1(numeric_abs,
																NumericGetDatum(total)));

	if (NumericCompare(magnitude, limit) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_GKV_NUMERIC_OVERFLOW),
				 errmsg("field \"%.*s\" would overflow", namelen, name),
				 errdetail("Counter values must stay within the range of a double precision number (about 1.8e308).")));
}

/*
 * GkvDocBuildPatch builds the delta state of a patch_numeric by this node
 * (origin = version.origin) on the current state (NULL when no row).
 *
 * A document that has expired is treated as deleted at its expiry instant:
 * the delta's reset is (expiry time as hlc, origin 0), the same in every
 * zone, so increments made after expiry in several zones merge into one new
 * life of the document instead of resetting each other.
 */
void
GkvDocBuildPatch(const GkvDocState *current, Jsonb *offsets, GkvVersion version,
				 bool has_expiry, TimestampTz expires_at, GkvDocState *delta)
{
	GkvCounterState *crdt = palloc0(sizeof(GkvCounterState));
	const GkvCounterState *cur_crdt = current ? current->crdt : NULL;
	Jsonb	   *cur_base = NULL;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			capacity;

	if (current != NULL)
	{
		bool		deleted;

		crdt->reset = GkvDocResetVersion(current, &deleted);
		crdt->reset_deleted = deleted;
		cur_base = deleted ? NULL : current->value;
		if (GkvDocIsExpiredAt(current, GkvHlcPhysicalMs(version.hlc)))
		{
			GkvVersion	expiry_reset;

			expiry_reset.hlc = GkvHlcFromMs(GkvTimestampToUnixMs(current->expires_at));
			expiry_reset.origin = 0;
			if (GkvVersionCompare(expiry_reset, crdt->reset) > 0)
			{
				crdt->reset = expiry_reset;
				crdt->reset_deleted = true;
				cur_base = NULL;
				cur_crdt = NULL;
			}
		}
	}
	else
	{
		crdt->reset.hlc = 0;
		crdt->reset.origin = 0;
		crdt->reset_deleted = true;
	}

	capacity = JsonContainerSize(&offsets->root) + 1;
	crdt->fields = palloc(sizeof(GkvCounterField) * capacity);

	/* jsonb object keys iterate in a stable order; fields get sorted below */
	it = JsonbIteratorInit(&offsets->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		GkvCounterField *f;
		GkvCounterField *existing;
		JsonbValue	k;

		if (tok != WJB_KEY)
			continue;
		k = v;
		tok = JsonbIteratorNext(&it, &v, true);
		f = &crdt->fields[crdt->nfields++];
		f->name = pnstrdup(k.val.string.val, k.val.string.len);
		f->namelen = k.val.string.len;
		f->ncontrib = 0;
		f->contrib = NULL;

		if (v.type == jbvNull)
		{
			/* removal: a new life of the field begins, absent */
			f->epoch = version;
			f->base = NULL;
			continue;
		}

		existing = FindField((GkvCounterState *) cur_crdt, f->name, f->namelen);
		if (existing != NULL)
		{
			Numeric		mine = NumericZero();
			Numeric		total;

			f->epoch = existing->epoch;
			f->base = existing->base;
			for (int c = 0; c < existing->ncontrib; c++)
				if (existing->contrib[c].origin == version.origin)
					mine = existing->contrib[c].sum;
			total = NumericAdd(FieldTotal(existing), v.val.numeric);
			CheckCounterRange(f->name, f->namelen, total);
			f->contrib = palloc(sizeof(GkvContribution));
			f->contrib[0].origin = version.origin;
			f->contrib[0].hlc = version.hlc;
			f->contrib[0].sum = NumericAdd(mine, v.val.numeric);
			f->ncontrib = 1;
		}
		else
		{
			Numeric		base = BaseFieldValue(cur_base, f->name, f->namelen);
			Numeric		total = base ? NumericAdd(base, v.val.numeric) : v.val.numeric;

			CheckCounterRange(f->name, f->namelen, total);
			f->epoch = crdt->reset;
			f->base = base;
			f->contrib = palloc(sizeof(GkvContribution));
			f->contrib[0].origin = version.origin;
			f->contrib[0].hlc = version.hlc;
			f->contrib[0].sum = v.val.numeric;
			f->ncontrib = 1;
		}
	}

	/* sort by name (insertion sort: offsets objects are small) */
	for (int a = 1; a < crdt->nfields; a++)
	{
		GkvCounterField tmp = crdt->fields[a];
		int			b = a - 1;

		while (b >= 0 && FieldNameCompare(crdt->fields[b].name, crdt->fields[b].namelen,
										  tmp.name, tmp.namelen) > 0)
		{
			crdt->fields[b + 1] = crdt->fields[b];
			b--;
		}
		crdt->fields[b + 1] = tmp;
	}

	delta->version = version;
	delta->has_expiry = has_expiry;
	delta->expires_at = expires_at;
	delta->crdt = crdt;
	/*
	 * No base document: the delta's reset either equals the stored state's
	 * (which then supplies the base) or is the synthetic expiry reset, which
	 * is a deletion.  cur_base is materialized -- it includes the counters --
	 * so handing it on would count them twice.
	 */
	delta->value = NULL;
}

/* ----------------------------------------------------------------
 * touch as a state
 * ----------------------------------------------------------------
 */

/*
 * GkvDocBuildTouch builds the state of a touch (a new expiry, nothing
 * else) of the live document 'current' by this node: the current state
 * with a new version and the new expiry, but with the current *reset*.
 * Returns false, building nothing, when the document is not live.
 *
 * Keeping the reset is what makes a touch only a touch under the merge:
 * the expiry travels with the greatest version, so the touch's expiry wins
 * over older writes; the base document comes from the greatest reset, so a
 * concurrent put (a newer reset) keeps its value and a concurrent delete
 * keeps the document deleted; counter fields are merged as always, so a
 * touch carries every increment it saw and loses none made concurrently.
 */
bool
GkvDocBuildTouch(const GkvDocState *current, GkvVersion version, TimestampTz expires_at,
				 GkvDocState *touch)
{
	GkvCounterState *crdt;
	bool		deleted;

	if (current == NULL || !GkvDocIsLive(current, GkvUnixMsNow()))
		return false;
	crdt = palloc0(sizeof(GkvCounterState));
	crdt->reset = GkvDocResetVersion(current, &deleted);
	crdt->reset_deleted = deleted;
	if (current->crdt)
	{
		crdt->nfields = current->crdt->nfields;
		crdt->fields = current->crdt->fields;
	}
	touch->value = current->value;
	touch->version = version;
	touch->has_expiry = true;
	touch->expires_at = expires_at;
	touch->crdt = crdt;
	return true;
}

/* ----------------------------------------------------------------
 * Serialization of the counter state (the shard table's crdt column)
 *
 * Big-endian integers (pqformat), numerics as their decimal text, so the
 * bytes are the same on every platform and can travel between nodes as-is.
 * ----------------------------------------------------------------
 */

static void
SendNumeric(StringInfo buf, Numeric n)
{
	char	   *s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(n)));
	int			len = strlen(s);

	pq_sendint32(buf, len);
	pq_sendbytes(buf, s, len);
	pfree(s);
}

static Numeric
GetNumeric(StringInfo buf)
{
	int			len = pq_getmsgint(buf, 4);
	const char *p;
	char	   *s;

	if (len < 0 || len > buf->len - buf->cursor)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid globalkv counter state")));
	p = pq_getmsgbytes(buf, len);
	s = pnstrdup(p, len);
	return DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(s),
											   ObjectIdGetDatum(InvalidOid),
											   Int32GetDatum(-1)));
}

bytea *
GkvCounterStateSerialize(const GkvCounterState *crdt)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoSpaces(&buf, VARHDRSZ);
	pq_sendint8(&buf, GKV_CRDT_FORMAT);
	pq_sendint8(&buf, crdt->reset_deleted ? GKV_CRDT_FLAG_RESET_DELETED : 0);
	pq_sendint64(&buf, crdt->reset.hlc);
	pq_sendint32(&buf, crdt->reset.origin);
	pq_sendint32(&buf, crdt->nfields);
	for (int i = 0; i < crdt->nfields; i++)
	{
		const GkvCounterField *f = &crdt->fields[i];

		pq_sendint32(&buf, f->namelen);
		pq_sendbytes(&buf, f->name, f->namelen);
		pq_sendint64(&buf, f->epoch.hlc);
		pq_sendint32(&buf, f->epoch.origin);
		pq_sendint8(&buf, f->base != NULL);
		if (f->base != NULL)
			SendNumeric(&buf, f->base);
		pq_sendint32(&buf, f->ncontrib);
		for (int c = 0; c < f->ncontrib; c++)
		{
			pq_sendint32(&buf, f->contrib[c].origin);
			pq_sendint64(&buf, f->contrib[c].hlc);
			SendNumeric(&buf, f->contrib[c].sum);
		}
	}
	SET_VARSIZE(buf.data, buf.len);
	return (bytea *) buf.data;
}

GkvCounterState *
GkvCounterStateDeserialize(bytea *data)
{
	StringInfoData buf;
	GkvCounterState *crdt = palloc0(sizeof(GkvCounterState));
	int			format,
				flags;

	buf.data = VARDATA_ANY(data);
	buf.len = VARSIZE_ANY_EXHDR(data);
	buf.maxlen = buf.len;
	buf.cursor = 0;

	format = pq_getmsgint(&buf, 1);
	if (format != GKV_CRDT_FORMAT)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("unsupported globalkv counter state format %d", format)));
	flags = pq_getmsgint(&buf, 1);
	crdt->reset_deleted = (flags & GKV_CRDT_FLAG_RESET_DELETED) != 0;
	crdt->reset.hlc = pq_getmsgint64(&buf);
	crdt->reset.origin = pq_getmsgint(&buf, 4);
	crdt->nfields = pq_getmsgint(&buf, 4);
	if (crdt->nfields < 0 || crdt->nfields > buf.len)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid globalkv counter state")));
	crdt->fields = palloc0(sizeof(GkvCounterField) * (crdt->nfields + 1));
	for (int i = 0; i < crdt->nfields; i++)
	{
		GkvCounterField *f = &crdt->fields[i];

		f->namelen = pq_getmsgint(&buf, 4);
		if (f->namelen < 0 || f->namelen > buf.len - buf.cursor)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("invalid globalkv counter state")));
		f->name = pnstrdup(pq_getmsgbytes(&buf, f->namelen), f->namelen);
		f->epoch.hlc = pq_getmsgint64(&buf);
		f->epoch.origin = pq_getmsgint(&buf, 4);
		f->base = pq_getmsgint(&buf, 1) ? GetNumeric(&buf) : NULL;
		f->ncontrib = pq_getmsgint(&buf, 4);
		if (f->ncontrib < 0 || f->ncontrib > buf.len)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("invalid globalkv counter state")));
		f->contrib = palloc(sizeof(GkvContribution) * (f->ncontrib + 1));
		for (int c = 0; c < f->ncontrib; c++)
		{
			f->contrib[c].origin = pq_getmsgint(&buf, 4);
			f->contrib[c].hlc = pq_getmsgint64(&buf);
			f->contrib[c].sum = GetNumeric(&buf);
		}
	}
	return crdt;
}
