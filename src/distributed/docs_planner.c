/*-------------------------------------------------------------------------
 *
 * docs_planner.c
 *	  The planner of kv.docs: SQL over every live document of the zone.
 *
 * kv.docs is a view over globalkv.docs_unplanned(), a function that only
 * raises an error.  PostgreSQL's rewriter expands the view into a subquery
 * before planning; this planner hook finds each such expansion (by that
 * function) anywhere in the query -- joins, subqueries, CTEs, the source of
 * an UPDATE or DELETE -- and replaces the function by what the query needs,
 * leaving the rest of the subquery alone (its first range-table entry is
 * the view itself, which carries the caller's permission check):
 *
 *	local	this node's placements, as plain SQL over its shard tables (a
 *			UNION ALL of each shard table held here, live rows only): when
 *			globalkv.docs_scope = node (a fragment sent by another node), or
 *			when this node holds every shard of its zone.  PostgreSQL then
 *			plans it like any query: indexes, joins, aggregates.
 *	router	the WHERE clause pins namespace and key (constants or
 *			parameters): globalkv.docs_router reads that one document on the
 *			node of the zone that holds its shard, as kv.get does --
 *			locally with no SQL, or forwarded as one statement.
 *	fan-out	anything else: globalkv.docs_fanout runs a fragment -- SELECT
 *			on kv.docs with the conditions of the WHERE clause that can be
 *			shipped, and only the columns the query uses -- on every node
 *			of the zone holding placements, in parallel, and the rest of the
 *			query (joins, aggregates, sorting) runs here on the union.
 *
 * A condition is shipped only when it can only mean the same thing on the
 * other node: built from the view's columns, constants of built-in types,
 * and built-in immutable functions and operators, with no text ordered by
 * a locale's rules (the rule postgres_fdw uses).  Shipped conditions leave
 * the local query, so columns only they read do not travel.  The fragment
 * is signed (docs_fanout.c): the function runs no other SQL.
 *
 * Not yet: aggregates, GROUP BY and ORDER BY/LIMIT pushed down with partial
 * results combined here, repartitioned count(DISTINCT) and joins, failover
 * of a fragment to another zone, DDL on kv.docs.  docs/sql.md keeps the
 * list.
 *
 * src/distributed/docs_planner.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "optimizer/planner.h"
#include "parser/analyze.h"
#include "parser/parse_func.h"
#include "parser/parser.h"
#include "rewrite/rewriteManip.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/ruleutils.h"
#include "utils/syscache.h"

#include "globalkv/catalog.h"
#include "globalkv/distributed.h"
#include "globalkv/guc.h"

/* the columns of kv.docs, in order */
#define DOCS_NAMESPACE	1
#define DOCS_KEY		2
#define DOCS_VALUE		3
#define DOCS_VERSION	4
#define DOCS_EXPIRES_AT	5
#define DOCS_NATTS		5

static const char *const DocsColumns[DOCS_NATTS] = {
	"namespace", "key", "value", "version", "expires_at"
};
static const char *const DocsColumnTypes[DOCS_NATTS] = {
	"text", "text", "jsonb", "text", "timestamptz"
};

static planner_hook_type prev_planner_hook = NULL;

typedef struct DocsFunctions
{
	Oid			unplanned;
	Oid			router;
	Oid			fanout;
} DocsFunctions;

/* an expansion of kv.docs found in a query */
typedef struct DocsExpansion
{
	Query	   *parent;			/* the query whose range table holds it */
	Index		rti;			/* its index there */
	RangeTblEntry *func_rte;	/* globalkv.docs_unplanned() in it */
	Oid			view_oid;
} DocsExpansion;

static Oid
LookupDocsFunction(const char *name, int nargs, const Oid *argtypes)
{
	return LookupFuncName(list_make2(makeString("globalkv"), makeString(pstrdup(name))),
						  nargs, argtypes, true);
}

/* the functions of kv.docs; false when this database has none (no globalkv 0.3) */
static bool
GetDocsFunctions(DocsFunctions *f)
{
	Oid			router_args[3] = {TEXTOID, TEXTOID, BOOLOID};
	Oid			fanout_args[2] = {TEXTOID, TEXTOID};

	if (!OidIsValid(get_namespace_oid("globalkv", true)))
		return false;
	f->unplanned = LookupDocsFunction("docs_unplanned", 0, NULL);
	f->router = LookupDocsFunction("docs_router", 3, router_args);
	f->fanout = LookupDocsFunction("docs_fanout", 2, fanout_args);
	return OidIsValid(f->unplanned) && OidIsValid(f->router) && OidIsValid(f->fanout);
}

/*
 * quick test: could the query hold kv.docs?  Its expansion is always a
 * subquery whose range table holds a function; a top-level function call
 * such as SELECT * FROM kv.get_versioned(...) -- a hot path -- is not, and
 * costs no catalog lookup here.
 */
static bool
HasSubqueryWithFunction(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, RangeTblEntry))
	{
		RangeTblEntry *rte = (RangeTblEntry *) node;
		ListCell   *lc;

		if (rte->rtekind != RTE_SUBQUERY)
			return false;
		foreach(lc, rte->subquery->rtable)
			if (lfirst_node(RangeTblEntry, lc)->rtekind == RTE_FUNCTION)
				return true;
		return false;
	}
	if (IsA(node, Query))
		return query_tree_walker((Query *) node, HasSubqueryWithFunction, context,
								 QTW_EXAMINE_RTES_BEFORE);
	return expression_tree_walker(node, HasSubqueryWithFunction, context);
}

/* is this subquery the expansion of kv.docs?  Returns its function RTE. */
static RangeTblEntry *
DocsFunctionRte(Query *sub, Oid unplanned)
{
	ListCell   *lc;

	foreach(lc, sub->rtable)
	{
		RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);
		RangeTblFunction *rtf;

		if (rte->rtekind != RTE_FUNCTION || list_length(rte->functions) != 1)
			continue;
		rtf = linitial_node(RangeTblFunction, rte->functions);
		if (IsA(rtf->funcexpr, FuncExpr) &&
			((FuncExpr *) rtf->funcexpr)->funcid == unplanned)
			return rte;
	}
	return NULL;
}

/* ----------------------------------------------------------------
 * Which columns of kv.docs the query uses
 * ----------------------------------------------------------------
 */
typedef struct ColumnsContext
{
	Index		rti;
	int			depth;			/* query nesting below the parent */
	bool		used[DOCS_NATTS + 1];
	bool		all;			/* a whole-row or system column reference */
} ColumnsContext;

static bool
CollectColumns(Node *node, ColumnsContext *ctx)
{
	if (node == NULL)
		return false;
	if (IsA(node, Var))
	{
		Var		   *v = (Var *) node;

		if (v->varno == ctx->rti && v->varlevelsup == ctx->depth)
		{
			if (v->varattno >= 1 && v->varattno <= DOCS_NATTS)
				ctx->used[v->varattno] = true;
			else
				ctx->all = true;
		}
		return false;
	}
	if (IsA(node, Query))
	{
		bool		result;

		ctx->depth++;
		result = query_tree_walker((Query *) node, CollectColumns, ctx, 0);
		ctx->depth--;
		return result;
	}
	return expression_tree_walker(node, CollectColumns, ctx);
}

static void
UsedColumns(Query *parent, Index rti, bool *used)
{
	ColumnsContext ctx = {0};

	ctx.rti = rti;
	(void) query_tree_walker(parent, CollectColumns, &ctx, 0);
	for (int att = 1; att <= DOCS_NATTS; att++)
		used[att] = ctx.all || ctx.used[att];
}

/* ----------------------------------------------------------------
 * Conditions on kv.docs in the WHERE clause
 * ----------------------------------------------------------------
 */

/*
 * FindRel: is range-table entry rti in this part of the join tree, and if
 * so, is it on the nullable side of an outer join within it?
 */
static bool
FindRel(Node *jt, Index rti, bool *nullable)
{
	if (jt == NULL)
		return false;
	if (IsA(jt, RangeTblRef))
	{
		*nullable = false;
		return ((RangeTblRef *) jt)->rtindex == (int) rti;
	}
	if (IsA(jt, FromExpr))
	{
		ListCell   *lc;

		foreach(lc, ((FromExpr *) jt)->fromlist)
			if (FindRel(lfirst(lc), rti, nullable))
				return true;
		return false;
	}
	if (IsA(jt, JoinExpr))
	{
		JoinExpr   *j = (JoinExpr *) jt;

		if (FindRel(j->larg, rti, nullable))
		{
			*nullable |= j->jointype == JOIN_RIGHT || j->jointype == JOIN_FULL;
			return true;
		}
		if (FindRel(j->rarg, rti, nullable))
		{
			*nullable |= j->jointype == JOIN_LEFT || j->jointype == JOIN_FULL;
			return true;
		}
	}
	return false;
}

/*
 * AddConditions collects the conditions of the join tree that filter the
 * rows of rti itself, wherever it is joined: those of every WHERE and
 * inner-join ON above it while it is not on the nullable side of an outer
 * join, and those of the ON clause of the outer join whose nullable side
 * it is (they filter it before the join).  Conditions over other
 * relations come along too: the caller keeps those on rti alone.
 */
static List *
AddConditions(Node *jt, Index rti, List *conds)
{
	bool		nullable;

	if (jt == NULL || IsA(jt, RangeTblRef))
		return conds;
	if (IsA(jt, FromExpr))
	{
		FromExpr   *f = (FromExpr *) jt;
		ListCell   *lc;

		foreach(lc, f->fromlist)
		{
			if (!FindRel(lfirst(lc), rti, &nullable))
				continue;
			conds = AddConditions(lfirst(lc), rti, conds);
			if (!nullable && f->quals != NULL)
				conds = list_concat(conds, make_ands_implicit((Expr *) f->quals));
		}
		return conds;
	}
	if (IsA(jt, JoinExpr))
	{
		JoinExpr   *j = (JoinExpr *) jt;
		bool		left = FindRel(j->larg, rti, &nullable);
		Node	   *side = left ? j->larg : j->rarg;
		bool		filtered_by_on;

		if (!left && !FindRel(j->rarg, rti, &nullable))
			return conds;
		conds = AddConditions(side, rti, conds);
		/* ON filters both sides of an inner join, only the nullable side of an outer one */
		filtered_by_on = j->jointype == JOIN_INNER ||
			(left && j->jointype == JOIN_RIGHT) ||
			(!left && j->jointype == JOIN_LEFT);
		if (!nullable && filtered_by_on && j->quals != NULL)
			conds = list_concat(conds, make_ands_implicit((Expr *) j->quals));
	}
	return conds;
}

static List *
TopConditions(Query *q, Index rti)
{
	return AddConditions((Node *) q->jointree, rti, NIL);
}

/*
 * StatementValue: is expr a value known when the statement starts --
 * constants, parameters of a prepared statement, and stable functions of
 * them ('k' || $1) -- so that the document it pins can be found then?
 */
static bool
NotStatementValue(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, Var) || IsA(node, SubLink) || IsA(node, Aggref) ||
		IsA(node, WindowFunc) || IsA(node, GroupingFunc) || IsA(node, Query))
		return true;
	if (IsA(node, Param))
		return ((Param *) node)->paramkind != PARAM_EXTERN;
	return expression_tree_walker(node, NotStatementValue, context);
}

static bool
IsStatementValue(Node *expr)
{
	if (IsA(expr, Const) && ((Const *) expr)->constisnull)
		return false;
	return !NotStatementValue(expr, NULL) && !contain_volatile_functions(expr);
}

/* "column = value" on a text column of kv.docs: the value, or NULL */
static Node *
PinnedValue(Expr *cond, Index rti, AttrNumber attno)
{
	OpExpr	   *op;
	Node	   *l,
			   *r;

	if (!IsA(cond, OpExpr))
		return NULL;
	op = (OpExpr *) cond;
	if (op->opno != TextEqualOperator || list_length(op->args) != 2)
		return NULL;
	l = strip_implicit_coercions(linitial(op->args));
	r = strip_implicit_coercions(lsecond(op->args));
	if (IsA(r, Var))
	{
		Node	   *t = l;

		l = r;
		r = t;
	}
	if (!IsA(l, Var) || ((Var *) l)->varno != rti || ((Var *) l)->varlevelsup != 0 ||
		((Var *) l)->varattno != attno || !IsStatementValue(r))
		return NULL;
	return r;
}

/* built-in objects only: their meaning is the same on every node */
#define IsBuiltin(oid) ((oid) < FirstGenbkiObjectId)

static bool
FunctionShippable(Oid funcid)
{
	return IsBuiltin(funcid) && func_volatile(funcid) == PROVOLATILE_IMMUTABLE;
}

/* is this a call of a function that ignores collation? */
static bool
CollationFree(Node *node)
{
	static const Oid free_functions[] = {
		F_TEXTEQ, F_TEXTNE, F_TEXTLIKE, F_TEXTNLIKE, F_TEXTCAT,
		F_JSONB_OBJECT_FIELD, F_JSONB_OBJECT_FIELD_TEXT, F_JSONB_EXTRACT_PATH,
		F_JSONB_EXTRACT_PATH_TEXT, F_JSONB_ARRAY_ELEMENT, F_JSONB_ARRAY_ELEMENT_TEXT,
		F_JSONB_EXISTS, F_JSONB_EXISTS_ANY, F_JSONB_EXISTS_ALL
	};
	Oid			funcid;

	if (IsA(node, OpExpr))
	{
		set_opfuncid((OpExpr *) node);
		funcid = ((OpExpr *) node)->opfuncid;
	}
	else if (IsA(node, FuncExpr))
		funcid = ((FuncExpr *) node)->funcid;
	else
		return false;
	for (int i = 0; i < lengthof(free_functions); i++)
		if (funcid == free_functions[i])
			return true;
	return false;
}

static bool
NotShippable(Node *node, Index *rti)
{
	Oid			collation;

	if (node == NULL)
		return false;

	/*
	 * Text handled under a locale's rules (ordering, case) may come out
	 * differently on another node; under C it cannot, and neither can the
	 * functions below, which only compare bytes or pick JSON apart.
	 */
	collation = exprInputCollation(node);
	if (OidIsValid(collation) && collation != C_COLLATION_OID && collation != POSIX_COLLATION_OID &&
		!CollationFree(node))
		return true;
	switch (nodeTag(node))
	{
		case T_Var:
			{
				Var		   *v = (Var *) node;

				return !(v->varno == *rti && v->varlevelsup == 0 &&
						 v->varattno >= 1 && v->varattno <= DOCS_NATTS);
			}
		case T_Const:
			return !IsBuiltin(((Const *) node)->consttype);
		case T_OpExpr:
		case T_DistinctExpr:
		case T_NullIfExpr:
			set_opfuncid((OpExpr *) node);
			if (!FunctionShippable(((OpExpr *) node)->opfuncid))
				return true;
			break;
		case T_ScalarArrayOpExpr:
			set_sa_opfuncid((ScalarArrayOpExpr *) node);
			if (!FunctionShippable(((ScalarArrayOpExpr *) node)->opfuncid))
				return true;
			break;
		case T_FuncExpr:
			if (!FunctionShippable(((FuncExpr *) node)->funcid))
				return true;
			break;
		case T_CoerceViaIO:
			{
				/* a cast through text: ship when both ends are built-in and immutable */
				CoerceViaIO *c = (CoerceViaIO *) node;
				Oid			out,
							in,
							ioparam;
				bool		varlena;

				getTypeOutputInfo(exprType((Node *) c->arg), &out, &varlena);
				getTypeInputInfo(c->resulttype, &in, &ioparam);
				if (!IsBuiltin(c->resulttype) || !FunctionShippable(out) || !FunctionShippable(in))
					return true;
			}
			break;
		case T_BoolExpr:
		case T_NullTest:
		case T_BooleanTest:
		case T_RelabelType:
		case T_ArrayExpr:
		case T_CoalesceExpr:
		case T_List:
			break;
		default:
			return true;
	}
	return expression_tree_walker(node, NotShippable, rti);
}

/* a condition that can run on another node instead of here */
static bool
Shippable(Node *cond, Index rti)
{
	return !contain_volatile_functions(cond) && !NotShippable(cond, &rti);
}

/* the conditions of a join-tree node, with those in 'gone' made "true" */
static Node *
WithoutConditions(Node *quals, List *gone)
{
	if (quals == NULL)
		return NULL;
	if (list_member_ptr(gone, quals))
		return (Node *) makeBoolConst(true, false);
	if (is_andclause(quals))
	{
		ListCell   *lc;

		foreach(lc, ((BoolExpr *) quals)->args)
			if (list_member_ptr(gone, lfirst(lc)))
				lfirst(lc) = makeBoolConst(true, false);
	}
	return quals;
}

static void
RemoveConditions(Node *jt, List *gone)
{
	ListCell   *lc;

	if (jt == NULL)
		return;
	if (IsA(jt, FromExpr))
	{
		FromExpr   *f = (FromExpr *) jt;

		f->quals = WithoutConditions(f->quals, gone);
		foreach(lc, f->fromlist)
			RemoveConditions(lfirst(lc), gone);
	}
	else if (IsA(jt, JoinExpr))
	{
		JoinExpr   *j = (JoinExpr *) jt;

		j->quals = WithoutConditions(j->quals, gone);
		RemoveConditions(j->larg, gone);
		RemoveConditions(j->rarg, gone);
	}
}

/*
 * ShipConditions deparses the conditions on kv.docs alone that can run on
 * another node, as SQL over "kv.docs docs" ("true" when there are none),
 * and takes them out of the query here: every node evaluates them the same
 * way (built-in immutable functions, no locale-dependent ordering), and a
 * column that only they use then need not travel.
 */
static char *
ShipConditions(Query *parent, List *conds, Index rti, Oid view_oid)
{
	StringInfoData buf;
	List	   *context = deparse_context_for("docs", view_oid);
	List	   *shipped = NIL;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, conds)
	{
		Node	   *cond;
		Relids		relids = pull_varnos(NULL, lfirst(lc));

		/* only conditions on this use of kv.docs alone, at this level */
		if (!bms_equal(relids, bms_make_singleton(rti)) || !Shippable(lfirst(lc), rti))
			continue;
		cond = copyObject(lfirst(lc));
		ChangeVarNodes(cond, rti, 1, 0);
		appendStringInfo(&buf, "%s%s", buf.len > 0 ? " AND " : "",
						 deparse_expression(cond, context, true, false));
		shipped = lappend(shipped, lfirst(lc));
	}
	RemoveConditions((Node *) parent->jointree, shipped);
	return buf.len > 0 ? buf.data : "true";
}

/* ----------------------------------------------------------------
 * The three plans
 * ----------------------------------------------------------------
 */

/* the owner of kv.docs: the shard tables are read with its rights, as a view's are */
static Oid
ViewOwner(Oid view_oid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(view_oid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", view_oid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

/* does this node hold every shard of its zone? */
static bool
HoldsWholeZone(void)
{
	int32		me = GkvLocalNodeId();
	int			nshards = GkvShardCount();

	for (int shard = 0; shard < nshards; shard++)
		if (GkvShardHolderHere(shard) != me)
			return false;
	return true;
}

/*
 * LocalDocsQuery: this node's placements as a query -- one branch per shard
 * table held here, live rows only -- analyzed, its tables read with the
 * rights of kv.docs's owner.
 */
static Query *
LocalDocsQuery(Oid view_oid)
{
	StringInfoData sql;
	int			nshards = GkvShardCount();
	int			branches = 0;
	List	   *raw;
	Query	   *q;
	Oid			owner = ViewOwner(view_oid);
	ListCell   *lc;

	initStringInfo(&sql);
	for (int shard = 0; shard < nshards; shard++)
	{
		Oid			relid;

		if (!GkvServesShard(shard))
			continue;
		relid = GkvShardRelid(shard);
		appendStringInfo(&sql,
						 "%sSELECT s.namespace, s.key, s.value,"
						 " s.hlc::pg_catalog.text OPERATOR(pg_catalog.||) ':' OPERATOR(pg_catalog.||)"
						 " s.origin::pg_catalog.text, s.expires_at"
						 " FROM %s s WHERE s.value IS NOT NULL AND (s.expires_at IS NULL OR"
						 " s.expires_at OPERATOR(pg_catalog.>) pg_catalog.statement_timestamp())",
						 branches++ > 0 ? " UNION ALL " : "",
						 quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
													get_rel_name(relid)));
	}
	if (branches == 0)
		appendStringInfoString(&sql,
							   "SELECT NULL::pg_catalog.text, NULL::pg_catalog.text, NULL::pg_catalog.jsonb,"
							   " NULL::pg_catalog.text, NULL::pg_catalog.timestamptz WHERE false");
	/*
	 * Parsed as the owner of kv.docs, as its own definition would be: the
	 * caller may not even look up schema globalkv_data.
	 */
	{
		Oid			save_userid;
		int			save_sec_context;

		GetUserIdAndSecContext(&save_userid, &save_sec_context);
		SetUserIdAndSecContext(owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
		PG_TRY();
		{
			raw = raw_parser(sql.data, RAW_PARSE_DEFAULT);
			q = parse_analyze_fixedparams(linitial_node(RawStmt, raw), sql.data, NULL, 0, NULL);
		}
		PG_FINALLY();
		{
			SetUserIdAndSecContext(save_userid, save_sec_context);
		}
		PG_END_TRY();
	}

	/* the caller's right to read kv.docs was checked on the view itself */
	foreach(lc, q->rtable)
	{
		RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);

		if (rte->rtekind == RTE_RELATION)
			rte->checkAsUser = owner;
		else if (rte->rtekind == RTE_SUBQUERY)
		{
			ListCell   *lc2;

			foreach(lc2, rte->subquery->rtable)
			{
				RangeTblEntry *inner = lfirst_node(RangeTblEntry, lc2);

				if (inner->rtekind == RTE_RELATION)
					inner->checkAsUser = owner;
			}
		}
	}
	return q;
}

static void
PlanLocal(DocsExpansion *e)
{
	RangeTblEntry *rte = e->func_rte;

	rte->rtekind = RTE_SUBQUERY;
	rte->subquery = LocalDocsQuery(e->view_oid);
	rte->functions = NIL;
	rte->funcordinality = false;
}

static void
ReplaceFunction(DocsExpansion *e, Oid funcid, List *args)
{
	RangeTblFunction *rtf = linitial_node(RangeTblFunction, e->func_rte->functions);
	FuncExpr   *old = (FuncExpr *) rtf->funcexpr;

	rtf->funcexpr = (Node *) makeFuncExpr(funcid, old->funcresulttype, args,
										  InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
	((FuncExpr *) rtf->funcexpr)->funcretset = true;
}

static void
PlanRouter(DocsExpansion *e, const DocsFunctions *f, Node *ns, Node *key, bool with_value)
{
	ReplaceFunction(e, f->router,
					list_make3(copyObject(ns), copyObject(key),
							   makeBoolConst(with_value, false)));
}

static void
PlanFanout(DocsExpansion *e, const DocsFunctions *f, List *conds)
{
	StringInfoData sql;
	char	   *signature;
	char	   *where = ShipConditions(e->parent, conds, e->rti, e->view_oid);
	bool		used[DOCS_NATTS + 1];

	/* what the query still reads once the shipped conditions are gone */
	UsedColumns(e->parent, e->rti, used);
	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT ");
	for (int att = 1; att <= DOCS_NATTS; att++)
	{
		if (att > 1)
			appendStringInfoString(&sql, ", ");
		/* a column the query never reads does not travel */
		if (used[att])
			appendStringInfo(&sql, "docs.%s", DocsColumns[att - 1]);
		else
			appendStringInfo(&sql, "NULL::pg_catalog.%s", DocsColumnTypes[att - 1]);
	}
	appendStringInfo(&sql, " FROM kv.docs docs WHERE %s", where);
	signature = GkvDocsSignFragment(sql.data);
	ReplaceFunction(e, f->fanout,
					list_make2(makeConst(TEXTOID, -1, DEFAULT_COLLATION_OID, -1,
										 CStringGetTextDatum(sql.data), false, false),
							   makeConst(TEXTOID, -1, DEFAULT_COLLATION_OID, -1,
										 CStringGetTextDatum(signature), false, false)));
}

static void
PlanExpansion(DocsExpansion *e, const DocsFunctions *f)
{
	bool		used[DOCS_NATTS + 1];
	List	   *conds = TopConditions(e->parent, e->rti);
	Node	   *ns = NULL;
	Node	   *key = NULL;
	ListCell   *lc;

	UsedColumns(e->parent, e->rti, used);
	foreach(lc, conds)
	{
		Expr	   *cond = lfirst(lc);

		if (ns == NULL)
			ns = PinnedValue(cond, e->rti, DOCS_NAMESPACE);
		if (key == NULL)
			key = PinnedValue(cond, e->rti, DOCS_KEY);
	}
	/* a fragment from another node reads this node's placements, nothing else */
	if (GkvDocsScope == GKV_DOCS_NODE)
		PlanLocal(e);
	else if (ns != NULL && key != NULL)
		PlanRouter(e, f, ns, key, used[DOCS_VALUE]);
	else if (HoldsWholeZone())
		PlanLocal(e);
	else
		PlanFanout(e, f, conds);
}

/* ----------------------------------------------------------------
 * Finding the expansions
 * ----------------------------------------------------------------
 */
static bool
PlanDocsWalker(Node *node, const DocsFunctions *f)
{
	if (node == NULL)
		return false;
	if (IsA(node, Query))
	{
		Query	   *q = (Query *) node;
		Index		rti = 0;
		ListCell   *lc;

		foreach(lc, q->rtable)
		{
			RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);
			RangeTblEntry *func_rte;
			RangeTblEntry *view_rte;

			rti++;
			if (rte->rtekind != RTE_SUBQUERY ||
				(func_rte = DocsFunctionRte(rte->subquery, f->unplanned)) == NULL)
				continue;
			/* the rewriter leaves the view itself first, for its permission check */
			view_rte = linitial_node(RangeTblEntry, rte->subquery->rtable);
			if (view_rte->rtekind != RTE_RELATION)
				elog(ERROR, "unexpected expansion of kv.docs");
			{
				DocsExpansion e = {q, rti, func_rte, view_rte->relid};

				PlanExpansion(&e, f);
			}
		}
		return query_tree_walker(q, PlanDocsWalker, (void *) f, 0);
	}
	return expression_tree_walker(node, PlanDocsWalker, (void *) f);
}

static PlannedStmt *
GkvDocsPlanner(Query *parse, const char *query_string, int cursorOptions,
			   ParamListInfo boundParams)
{
	DocsFunctions f;

	if (HasSubqueryWithFunction((Node *) parse, NULL) && GetDocsFunctions(&f))
		(void) PlanDocsWalker((Node *) parse, &f);
	if (prev_planner_hook)
		return prev_planner_hook(parse, query_string, cursorOptions, boundParams);
	return standard_planner(parse, query_string, cursorOptions, boundParams);
}

void
GkvDocsPlannerInit(void)
{
	prev_planner_hook = planner_hook;
	planner_hook = GkvDocsPlanner;
}
