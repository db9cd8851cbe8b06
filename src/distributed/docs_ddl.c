/*-------------------------------------------------------------------------
 *
 * docs_ddl.c
 *	  CREATE INDEX and DROP INDEX on kv.docs: an index on every shard table
 *	  of every node of every zone.
 *
 * kv.docs is a view, so PostgreSQL would refuse an index on it.  A utility
 * hook takes CREATE INDEX ... ON kv.docs instead:
 *
 *	1. checks it: not UNIQUE (each node sees only its own shards), not
 *	   CONCURRENTLY, not in a transaction block (the nodes' builds commit
 *	   one by one), columns namespace, key, value and expires_at only
 *	   (version is computed), built-in immutable functions only (the same
 *	   on every node), a built-in access method; the caller in
 *	   globalkv_admin;
 *	2. deparses it as a definition over the shard tables' columns -- "USING
 *	   btree ((value ->> 'customer'::text)) WHERE ..." -- and builds it here
 *	   on every shard table (globalkv.docs_index_apply);
 *	3. has every other node of the parade build it too, all at once; when
 *	   one fails, the nodes that built it drop it again and the statement
 *	   fails with that node's SQLSTATE and name: no half-created index.  A
 *	   node that cannot be reached is told by a WARNING to build it later;
 *	4. records it in the replicated catalog (globalkv.docs_indexes), from
 *	   which a node that was away -- or joins later -- builds it when the
 *	   catalog reaches it (catalog_sync.c).
 *
 * DROP INDEX of an index of kv.docs works the same way round.  Every shard
 * table exists on every node (a placement only decides which are served),
 * so a shard moved to a node finds its indexes there already.
 *
 * src/distributed/docs_ddl.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/index.h"
#include "catalog/pg_class.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_utilcmd.h"
#include "parser/parser.h"
#include "tcop/utility.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/ruleutils.h"
#include "utils/syscache.h"

#include "globalkv/catalog.h"
#include "globalkv/connection.h"
#include "globalkv/distributed.h"
#include "globalkv/errcodes.h"

#define MAX_INDEX_NAME 40		/* + "_NNNN" per shard table, under NAMEDATALEN */
#define IsBuiltin(oid) ((oid) < FirstGenbkiObjectId)
/* made by initdb: operator classes get their OIDs there without fixing them */
#define MadeByInitdb(oid) ((oid) < FirstNormalObjectId)

static ProcessUtility_hook_type prev_utility_hook = NULL;

/* kv.docs, when this database has it */
static Oid
DocsViewOid(void)
{
	Oid			kv = get_namespace_oid("kv", true);

	return OidIsValid(kv) ? get_relname_relid("docs", kv) : InvalidOid;
}

static void
RequireAdmin(const char *what)
{
	Oid			admin = get_role_oid("globalkv_admin", true);

	if (!superuser() && (!OidIsValid(admin) || !has_privs_of_role(GetUserId(), admin)))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only members of globalkv_admin may %s", what)));
}

/* ----------------------------------------------------------------
 * Checking and deparsing an index
 * ----------------------------------------------------------------
 */

/* only built-in immutable functions: an index means the same on every node */
static bool
NotBuiltinImmutableFunction(Oid funcid, void *context)
{
	return !IsBuiltin(funcid) || func_volatile(funcid) != PROVOLATILE_IMMUTABLE;
}

static bool
NotBuiltinImmutable(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (check_functions_in_node(node, NotBuiltinImmutableFunction, NULL))
		return true;
	/* a domain's CHECK is user code, which the index would run as the tables' owner */
	if (IsA(node, SubLink) || IsA(node, Param) || IsA(node, CoerceToDomain))
		return true;
	if (!IsA(node, List) && !IsBuiltin(exprType(node)))
		return true;
	return expression_tree_walker(node, NotBuiltinImmutable, context);
}

/* kv.docs's column "version" (attribute 4) is computed, not stored */
#define DOCS_VERSION_ATTNO 4

static void
CheckIndexExpression(Node *expr, const char *where)
{
	Bitmapset  *attrs = NULL;

	pull_varattnos(expr, 1, &attrs);
	if (bms_is_member(DOCS_VERSION_ATTNO - FirstLowInvalidHeapAttributeNumber, attrs))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("column \"version\" of kv.docs cannot be indexed"),
				 errdetail("The version of a document is computed when it is read.")));
	if (NotBuiltinImmutable(expr, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s of an index on kv.docs may use only built-in immutable functions and types", where),
				 errdetail("The index is built on every node: it must mean the same on each.")));
}

/*
 * IndexDefinition: the index of a transformed IndexStmt on the relation
 * relid, as "USING am (elements) [WHERE predicate]" over its columns by
 * name -- the same names as the shard tables' -- after checking it.
 */
static char *
IndexDefinition(IndexStmt *stmt, Oid relid)
{
	StringInfoData buf;
	List	   *context = deparse_context_for(get_rel_name(relid), relid);
	const char *am = stmt->accessMethod ? stmt->accessMethod : DEFAULT_INDEX_TYPE;
	Oid			am_oid = get_am_oid(am, true);
	ListCell   *lc;

	if (!OidIsValid(am_oid) || !IsBuiltin(am_oid))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("an index on kv.docs must use a built-in access method, not \"%s\"", am)));
	if (stmt->indexIncludingParams != NIL || stmt->options != NIL || stmt->tableSpace != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("an index on kv.docs takes no INCLUDE, WITH or TABLESPACE clause"),
				 errdetail("It is built on every node, whose storage may differ.")));
	initStringInfo(&buf);
	appendStringInfo(&buf, "USING %s (", quote_identifier(am));
	foreach(lc, stmt->indexParams)
	{
		IndexElem  *elem = lfirst_node(IndexElem, lc);

		if (foreach_current_index(lc) > 0)
			appendStringInfoString(&buf, ", ");
		if (elem->name != NULL)
		{
			if (strcmp(elem->name, "namespace") != 0 && strcmp(elem->name, "key") != 0 &&
				strcmp(elem->name, "value") != 0 && strcmp(elem->name, "expires_at") != 0)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("column \"%s\" of kv.docs cannot be indexed", elem->name),
						 errdetail("The version of a document is computed when it is read; namespace, key, value and expires_at are stored.")));
			appendStringInfoString(&buf, quote_identifier(elem->name));
		}
		else
		{
			CheckIndexExpression(elem->expr, "an expression");
			appendStringInfo(&buf, "(%s)", deparse_expression(elem->expr, context, false, false));
		}
		if (elem->collation != NIL)
			appendStringInfo(&buf, " COLLATE %s", NameListToQuotedString(elem->collation));
		if (elem->opclass != NIL)
		{
			/* an operator class runs its support functions while the index is kept */
			if (!MadeByInitdb(get_opclass_oid(am_oid, elem->opclass, false)))
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("an index on kv.docs may use only built-in operator classes")));
			appendStringInfo(&buf, " %s", NameListToQuotedString(elem->opclass));
		}
		if (elem->ordering == SORTBY_DESC)
			appendStringInfoString(&buf, " DESC");
		if (elem->nulls_ordering == SORTBY_NULLS_FIRST)
			appendStringInfoString(&buf, " NULLS FIRST");
		else if (elem->nulls_ordering == SORTBY_NULLS_LAST)
			appendStringInfoString(&buf, " NULLS LAST");
	}
	appendStringInfoChar(&buf, ')');
	if (stmt->whereClause != NULL)
	{
		CheckIndexExpression(stmt->whereClause, "the WHERE clause");
		appendStringInfo(&buf, " WHERE %s", deparse_expression(stmt->whereClause, context, false, false));
	}
	return buf.data;
}

/* a name for an index of kv.docs given none: docs_<first column>_idx[N] */
static char *
ChooseDocsIndexName(IndexStmt *stmt)
{
	IndexElem  *first = linitial_node(IndexElem, stmt->indexParams);
	const char *column = first->name ? first->name : "expr";

	for (int n = 0; n < 1000; n++)
	{
		char	   *name = n == 0 ? psprintf("docs_%s_idx", column) : psprintf("docs_%s_idx%d", column, n);
		bool		taken;
		Oid			argtypes[1] = {TEXTOID};
		Datum		args[1] = {CStringGetTextDatum(name)};

		if (SPI_execute_with_args("SELECT 1 FROM globalkv.docs_indexes WHERE name = $1 AND NOT dropped",
								  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not read globalkv.docs_indexes");
		taken = SPI_processed > 0;
		if (!taken)
			return name;
	}
	ereport(ERROR,
			(errcode(ERRCODE_DUPLICATE_OBJECT),
			 errmsg("could not choose a name for the index on kv.docs: give it one")));
	return NULL;
}

static void
CheckIndexName(const char *name)
{
	size_t		len = strlen(name);

	if (len == 0 || len > MAX_INDEX_NAME || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") != len)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("invalid name \"%s\" for an index on kv.docs", name),
				 errdetail("It is the name of an index on every shard table: lower-case letters, digits and underscores, at most %d of them.",
						   MAX_INDEX_NAME)));
}

/* ----------------------------------------------------------------
 * Building and dropping on this node: globalkv.docs_index_apply
 * ----------------------------------------------------------------
 */

/* the shard tables of this node, schema-qualified, and their owner */
static List *
ShardTables(Oid *owner)
{
	List	   *tables = NIL;
	int			nshards = GkvShardCount();

	*owner = InvalidOid;
	for (int shard = 0; shard < nshards; shard++)
	{
		Oid			relid = GkvShardRelid(shard);

		if (!OidIsValid(relid))
			continue;
		if (!OidIsValid(*owner))
		{
			HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));

			if (!HeapTupleIsValid(tup))
				elog(ERROR, "cache lookup failed for relation %u", relid);
			*owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
			ReleaseSysCache(tup);
		}
		tables = lappend(tables, list_make2(makeString(get_namespace_name(get_rel_namespace(relid))),
											makeString(get_rel_name(relid))));
	}
	return tables;
}

/*
 * CheckDefinition parses "CREATE INDEX i ON <a shard table> <definition>"
 * and checks that it is one plain index with built-in immutable functions:
 * the definition came from another node, or from a caller, not from this
 * node's own deparsing.
 */
static void
CheckDefinition(const char *definition, List *table)
{
	char	   *sql = psprintf("CREATE INDEX gkv_check ON %s.%s %s",
							   quote_identifier(strVal(linitial(table))),
							   quote_identifier(strVal(lsecond(table))), definition);
	List	   *raw = raw_parser(sql, RAW_PARSE_DEFAULT);
	IndexStmt  *stmt;
	Oid			relid;
	ListCell   *lc;

	if (list_length(raw) != 1 || !IsA(linitial_node(RawStmt, raw)->stmt, IndexStmt))
		ereport(ERROR,
				(errcode(ERRCODE_GKV_INVALID_ARGUMENT),
				 errmsg("invalid definition of an index on kv.docs: %s", definition)));
	stmt = (IndexStmt *) linitial_node(RawStmt, raw)->stmt;
	if (stmt->unique || stmt->concurrent || stmt->indexIncludingParams != NIL ||
		stmt->options != NIL || stmt->tableSpace != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_GKV_INVALID_ARGUMENT),
				 errmsg("invalid definition of an index on kv.docs: %s", definition)));
	relid = RangeVarGetRelid(stmt->relation, AccessShareLock, false);
	stmt = transformIndexStmt(relid, stmt, sql);
	foreach(lc, stmt->indexParams)
	{
		IndexElem  *elem = lfirst_node(IndexElem, lc);
		Oid			am_oid = get_am_oid(stmt->accessMethod ? stmt->accessMethod : DEFAULT_INDEX_TYPE, false);

		if (elem->expr != NULL)
			CheckIndexExpression(elem->expr, "an expression");
		if (!IsBuiltin(am_oid) ||
			(elem->opclass != NIL && !MadeByInitdb(get_opclass_oid(am_oid, elem->opclass, false))))
			ereport(ERROR,
					(errcode(ERRCODE_GKV_INVALID_ARGUMENT),
					 errmsg("invalid definition of an index on kv.docs: %s", definition)));
	}
	if (stmt->whereClause != NULL)
		CheckIndexExpression(stmt->whereClause, "the WHERE clause");
}

#define DEFINITION_MARK "index of kv.docs: "

static void
RunUtility(const char *sql)
{
	if (SPI_execute(sql, false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not run: %s", sql);
}

/* is the index (qualified name) missing, or built from this definition? */
static bool
IndexHasDefinition(const char *qualified, const char *definition)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1] = {CStringGetTextDatum(qualified)};
	bool		isnull;
	Datum		comment;

	if (SPI_execute_with_args("SELECT pg_catalog.to_regclass($1) IS NULL,"
							  " pg_catalog.obj_description(pg_catalog.to_regclass($1), 'pg_class')",
							  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not look up index %s", qualified);
	if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
		return true;
	comment = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	return !isnull && strcmp(TextDatumGetCString(comment),
							 psprintf("%s%s", DEFINITION_MARK, definition)) == 0;
}

/* builds (definition) or drops (NULL) index name on every shard table here */
static void
ApplyHere(const char *name, const char *definition)
{
	Oid			owner;
	List	   *tables = ShardTables(&owner);
	Oid			save_userid;
	int			save_sec_context;
	ListCell   *lc;

	CheckIndexName(name);
	if (tables == NIL)
		return;
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	PG_TRY();
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (definition != NULL)
			CheckDefinition(definition, linitial(tables));
		foreach(lc, tables)
		{
			List	   *table = lfirst(lc);
			const char *schema = quote_identifier(strVal(linitial(table)));
			const char *index = quote_identifier(psprintf("%s_%s", name, strVal(lsecond(table))));

			char	   *qualified = psprintf("%s.%s", schema, index);

			/*
			 * An index of that name built from another definition (dropped
			 * and made again while this node was away) is built anew: each
			 * index carries its definition as its comment.
			 */
			if (definition != NULL && !IndexHasDefinition(qualified, definition))
				RunUtility(psprintf("DROP INDEX IF EXISTS %s", qualified));
			if (definition != NULL)
			{
				RunUtility(psprintf("CREATE INDEX IF NOT EXISTS %s ON %s.%s %s", index, schema,
									quote_identifier(strVal(lsecond(table))), definition));
				RunUtility(psprintf("COMMENT ON INDEX %s IS %s", qualified,
									quote_literal_cstr(psprintf("%s%s", DEFINITION_MARK, definition))));
			}
			else
				RunUtility(psprintf("DROP INDEX IF EXISTS %s", qualified));
		}
		SPI_finish();
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_userid, save_sec_context);
	}
	PG_END_TRY();
}

PG_FUNCTION_INFO_V1(gkv_docs_index_apply);

/* globalkv.docs_index_apply(name, definition): see the header */
Datum
gkv_docs_index_apply(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_GKV_INVALID_ARGUMENT),
				 errmsg("globalkv.docs_index_apply needs the index's name")));
	ApplyHere(text_to_cstring(PG_GETARG_TEXT_PP(0)),
			  PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1)));
	PG_RETURN_VOID();
}

/* ----------------------------------------------------------------
 * Every other node
 * ----------------------------------------------------------------
 */

#define APPLY_SQL "SELECT globalkv.docs_index_apply($1, $2)"

/*
 * RunOnNodes sends docs_index_apply(values) to the nodes asked[], all at
 * once, and collects their answers, each in a subtransaction so that one
 * node's error neither stops the others' answers from being read nor
 * leaves a connection busy.  done[i]: it did it; unknown[i]: its
 * connection broke after the request went out.  Returns the first error,
 * or NULL.  A node that cannot be reached is only reported.
 */
static ErrorData *
RunOnNodes(int nnodes, const bool *asked, bool *done, bool *unknown, const char *const *values)
{
	bool	   *sent = palloc0(sizeof(bool) * Max(nnodes, 1));
	ErrorData  *failure = NULL;
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	const char *what = values[1] != NULL ? "build" : "drop";

	for (int i = 0; i < nnodes; i++)
	{
		const GkvNodeInfo *node = GkvNodeByIndex(i);

		done[i] = unknown[i] = false;
		if (!asked[i])
			continue;
		sent[i] = GkvNodeSend(node->node_id, APPLY_SQL, 2, values);
		if (!sent[i])
			ereport(WARNING,
					(errmsg("node \"%s\" of zone \"%s\" cannot be reached: it will %s index \"%s\" when the catalog reaches it",
							node->name, node->zone, what, values[0])));
	}
	for (int i = 0; i < nnodes; i++)
	{
		const GkvNodeInfo *node = GkvNodeByIndex(i);

		if (!sent[i])
			continue;
		BeginInternalSubTransaction(NULL);
		PG_TRY();
		{
			PGresult   *res = GkvNodeReceive(node->node_id, GKV_WAIT_WHILE_IT_RUNS);

			if (res == NULL)
			{
				unknown[i] = true;
				ereport(WARNING,
						(errmsg("node \"%s\" dropped its connection while it was to %s index \"%s\": it will when the catalog reaches it",
								node->name, what, values[0])));
			}
			else
			{
				PQclear(res);
				done[i] = true;
			}
			ReleaseCurrentSubTransaction();
		}
		PG_CATCH();
		{
			MemoryContextSwitchTo(cxt);
			if (failure == NULL)
				failure = CopyErrorData();
			FlushErrorState();
			RollbackAndReleaseCurrentSubTransaction();
		}
		PG_END_TRY();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	return failure;
}

/*
 * ApplyEverywhere has every other node of the parade build (or drop) the
 * index, all at once.  When a node fails, the nodes that built it -- or
 * may have -- drop it again, then the first failure is raised (with its
 * SQLSTATE; the node is named in its context).  A node that cannot be
 * reached gets a WARNING: it builds the index when the catalog reaches it.
 */
static void
ApplyEverywhere(const char *name, const char *definition)
{
	int			nnodes = GkvNodeCount();
	int32		me = GkvLocalNodeId();
	bool	   *asked = palloc0(sizeof(bool) * Max(nnodes, 1));
	bool	   *done = palloc0(sizeof(bool) * Max(nnodes, 1));
	bool	   *unknown = palloc0(sizeof(bool) * Max(nnodes, 1));
	const char *values[2] = {name, definition};
	const char *drop[2] = {name, NULL};
	ErrorData  *failure;

	for (int i = 0; i < nnodes; i++)
		asked[i] = GkvNodeByIndex(i)->node_id != me;
	failure = RunOnNodes(nnodes, asked, done, unknown, values);
	if (failure == NULL)
		return;

	/* undo what the others built (or may have), so that no node keeps half of it */
	if (definition != NULL)
	{
		for (int i = 0; i < nnodes; i++)
			asked[i] = done[i] || unknown[i];
		if (RunOnNodes(nnodes, asked, done, unknown, drop) != NULL)
			ereport(WARNING,
					(errmsg("some node could not drop the index \"%s\" again; DROP INDEX it once it is back",
							name)));
	}
	ReThrowError(failure);
}

/* ----------------------------------------------------------------
 * The statements
 * ----------------------------------------------------------------
 */

/* stamps and writes the catalog row of an index (definition NULL: dropped) */
static void
RecordIndex(const char *name, const char *definition)
{
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		args[2] = {CStringGetTextDatum(name), definition ? CStringGetTextDatum(definition) : (Datum) 0};
	char		nulls[2] = {' ', definition ? ' ' : 'n'};

	if (SPI_execute_with_args(definition != NULL ?
							  "WITH v AS (SELECT globalkv.stamp() AS v)"
							  " INSERT INTO globalkv.docs_indexes AS i (name, definition, created_at, hlc, origin, seq, dropped)"
							  " SELECT $1, $2, now(), v.v, (SELECT node_id FROM globalkv.node), v.v, false FROM v"
							  " ON CONFLICT (name) DO UPDATE SET definition = EXCLUDED.definition,"
							  " created_at = EXCLUDED.created_at, hlc = EXCLUDED.hlc, origin = EXCLUDED.origin,"
							  " seq = EXCLUDED.seq, dropped = false" :
							  "WITH v AS (SELECT globalkv.stamp() AS v)"
							  " UPDATE globalkv.docs_indexes i SET hlc = v.v, seq = v.v, dropped = true,"
							  " origin = (SELECT node_id FROM globalkv.node) FROM v WHERE i.name = $1",
							  2, argtypes, args, nulls, false, 0) < 0)
		elog(ERROR, "could not record index \"%s\" of kv.docs", name);
}

static void
CreateDocsIndex(IndexStmt *stmt, const char *queryString, bool toplevel, Oid docs)
{
	char	   *definition;
	char	   *name;
	bool		exists;
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];

	RequireAdmin("create an index on kv.docs");
	if (stmt->concurrent)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("CREATE INDEX CONCURRENTLY on kv.docs is not supported"),
				 errhint("Use CREATE INDEX: each node builds the index on its shard tables, and writes to them wait until it is built there.")));
	if (stmt->unique || stmt->primary || stmt->isconstraint)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a unique index on kv.docs cannot be enforced"),
				 errdetail("Each node holds only its own shards, and zones accept writes independently.")));
	PreventInTransactionBlock(toplevel, "CREATE INDEX on kv.docs");

	LockRelationOid(docs, AccessShareLock);
	stmt = transformIndexStmt(docs, stmt, queryString);
	definition = IndexDefinition(stmt, docs);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	name = stmt->idxname ? pstrdup(stmt->idxname) : ChooseDocsIndexName(stmt);
	CheckIndexName(name);
	args[0] = CStringGetTextDatum(name);
	if (SPI_execute_with_args("SELECT 1 FROM globalkv.docs_indexes WHERE name = $1 AND NOT dropped",
							  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read globalkv.docs_indexes");
	exists = SPI_processed > 0;
	if (exists)
	{
		SPI_finish();
		if (stmt->if_not_exists)
		{
			ereport(NOTICE,
					(errmsg("index \"%s\" of kv.docs already exists, skipping", name)));
			return;
		}
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_TABLE),
				 errmsg("index \"%s\" of kv.docs already exists", name)));
	}
	ereport(LOG,
			(errmsg("building index \"%s\" of kv.docs on every node: %s", name, definition)));
	ApplyHere(name, definition);
	ApplyEverywhere(name, definition);
	RecordIndex(name, definition);
	SPI_finish();
}

/* is this a name of an index of kv.docs (unqualified, or in schema kv)? */
static bool
IsDocsIndexName(List *names, char **name)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	bool		found;

	if (list_length(names) == 2 && strcmp(strVal(linitial(names)), "kv") != 0)
		return false;
	if (list_length(names) > 2)
		return false;
	*name = strVal(llast(names));
	args[0] = CStringGetTextDatum(*name);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT 1 FROM globalkv.docs_indexes WHERE name = $1 AND NOT dropped",
							  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read globalkv.docs_indexes");
	found = SPI_processed > 0;
	SPI_finish();
	/* an ordinary index of that name in the search path is PostgreSQL's */
	if (found && list_length(names) == 1 &&
		OidIsValid(RangeVarGetRelid(makeRangeVarFromNameList(names), NoLock, true)))
		return false;
	return found;
}

/* DROP INDEX naming indexes of kv.docs: true when it did */
static bool
DropDocsIndexes(DropStmt *stmt, bool toplevel)
{
	List	   *ours = NIL;
	int			others = 0;
	ListCell   *lc;

	foreach(lc, stmt->objects)
	{
		char	   *name;

		if (IsDocsIndexName(lfirst(lc), &name))
			ours = lappend(ours, name);
		else
			others++;
	}
	if (ours == NIL)
		return false;
	if (others > 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("DROP INDEX cannot drop indexes of kv.docs and other indexes at once")));
	RequireAdmin("drop an index of kv.docs");
	if (stmt->concurrent)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("DROP INDEX CONCURRENTLY of an index of kv.docs is not supported")));
	PreventInTransactionBlock(toplevel, "DROP INDEX of an index of kv.docs");
	foreach(lc, ours)
	{
		const char *name = lfirst(lc);

		ereport(LOG, (errmsg("dropping index \"%s\" of kv.docs on every node", name)));
		ApplyHere(name, NULL);
		ApplyEverywhere(name, NULL);
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		RecordIndex(name, NULL);
		SPI_finish();
	}
	return true;
}

static void
GkvDocsProcessUtility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
					  ProcessUtilityContext context, ParamListInfo params,
					  QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;
	bool		toplevel = context == PROCESS_UTILITY_TOPLEVEL;
	Oid			docs;
	Oid			globalkv;

	if ((IsA(parsetree, IndexStmt) || (IsA(parsetree, DropStmt) &&
									   ((DropStmt *) parsetree)->removeType == OBJECT_INDEX)) &&
		IsTransactionState() && OidIsValid(docs = DocsViewOid()) &&
		OidIsValid(globalkv = get_namespace_oid("globalkv", true)) &&
		OidIsValid(get_relname_relid("docs_indexes", globalkv)))
	{
		if (IsA(parsetree, IndexStmt) &&
			RangeVarGetRelid(((IndexStmt *) parsetree)->relation, NoLock, true) == docs)
		{
			CreateDocsIndex(copyObject((IndexStmt *) parsetree), queryString, toplevel, docs);
			if (qc)
				SetQueryCompletion(qc, CMDTAG_CREATE_INDEX, 0);
			return;
		}
		if (IsA(parsetree, DropStmt) && DropDocsIndexes((DropStmt *) parsetree, toplevel))
		{
			if (qc)
				SetQueryCompletion(qc, CMDTAG_DROP_INDEX, 0);
			return;
		}
	}
	if (prev_utility_hook)
		prev_utility_hook(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
}

void
GkvDocsDdlInit(void)
{
	prev_utility_hook = ProcessUtility_hook;
	ProcessUtility_hook = GkvDocsProcessUtility;
}
