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
 *			When the query only groups and aggregates kv.docs, each node
 *			does that for its rows and returns partial aggregates, which
 *			are combined here (PlanFanoutGrouped); when it only keeps the
 *			first rows in some order, each node sends only its first ones.
 *	repartition  grouping that cannot be split into partial results
 *			(count(DISTINCT), string_agg), and joins of two uses of kv.docs
 *			on document fields: globalkv.docs_repartition has each node
 *			compute one hash bucket from that bucket's rows of every node
 *			(PlanRepartitionGroups, PlanRepartitionDistinct,
 *			PlanRepartitionJoin).
 *	repartition  grouping that cannot be split into partial results
 *			(count(DISTINCT), string_agg): globalkv.docs_repartition has
 *			each node compute one hash bucket of the groups from that
 *			bucket's rows of every node (PlanRepartitionGroups,
 *			PlanRepartitionDistinct).
 *
 * A condition is shipped only when it can only mean the same thing on the
 * other node: built from the view's columns, constants of built-in types,
 * and built-in immutable functions and operators, with no text ordered by
 * a locale's rules (the rule postgres_fdw uses).  Shipped conditions leave
 * the local query, so columns only they read do not travel.  The fragment
 * is signed (docs_fanout.c): the function runs no other SQL.  While
 * EXPLAIN plans, each decision is noted for it (docs_explain.c).
 *
 * Not yet: joins of more than two uses of kv.docs, anti joins (NOT
 * EXISTS), DDL beyond CREATE/DROP INDEX (docs_ddl.c).  docs/sql.md keeps
 * the list.
 *
 * src/distributed/docs_planner.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_aggregate.h"
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
#include "parser/parse_coerce.h"
#include "parser/parse_func.h"
#include "parser/parse_oper.h"
#include "parser/parsetree.h"
#include "parser/parser.h"
#include "rewrite/rewriteManip.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/ruleutils.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

#include "globalkv/catalog.h"
#include "globalkv/distributed.h"
#include "globalkv/guc.h"

#include "docs_shared.h"

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
	Oid			repartition;
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
	Oid			repartition_args[2] = {TEXTOID, TEXTOID};

	if (!OidIsValid(get_namespace_oid("globalkv", true)))
		return false;
	f->unplanned = LookupDocsFunction("docs_unplanned", 0, NULL);
	f->router = LookupDocsFunction("docs_router", 3, router_args);
	f->fanout = LookupDocsFunction("docs_fanout", 2, fanout_args);
	f->repartition = LookupDocsFunction("docs_repartition", 2, repartition_args);
	return OidIsValid(f->unplanned) && OidIsValid(f->router) && OidIsValid(f->fanout) &&
		OidIsValid(f->repartition);
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
/*
 * AnyVar walks a tree for its Vars: test(var, depth, arg) for each, depth
 * being how far below the walked query the Var sits (one of that query's
 * own has varlevelsup == depth).  True as soon as a test is.
 */
typedef bool (*VarTest) (Var *var, int depth, void *arg);

typedef struct VarWalk
{
	VarTest		test;
	void	   *arg;
	int			depth;
} VarWalk;

static bool
AnyVar(Node *node, VarWalk *walk)
{
	if (node == NULL)
		return false;
	if (IsA(node, Var))
		return walk->test((Var *) node, walk->depth, walk->arg);
	if (IsA(node, Query))
	{
		bool		result;

		walk->depth++;
		result = query_tree_walker((Query *) node, AnyVar, walk, 0);
		walk->depth--;
		return result;
	}
	return expression_tree_walker(node, AnyVar, walk);
}

typedef struct ColumnsContext
{
	Index		rti;
	bool		used[DOCS_NATTS + 1];
	bool		all;			/* a whole-row or system column reference */
} ColumnsContext;

static bool
NoteColumn(Var *v, int depth, void *arg)
{
	ColumnsContext *ctx = arg;

	if (v->varno == ctx->rti && v->varlevelsup == depth)
	{
		if (v->varattno >= 1 && v->varattno <= DOCS_NATTS)
			ctx->used[v->varattno] = true;
		else
			ctx->all = true;
	}
	return false;
}

static void
UsedColumns(Query *parent, Index rti, bool *used)
{
	ColumnsContext ctx = {0};
	VarWalk		walk = {NoteColumn, &ctx, 0};

	ctx.rti = rti;
	(void) query_tree_walker(parent, AnyVar, &walk, 0);
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
		F_JSONB_EXISTS, F_JSONB_EXISTS_ANY, F_JSONB_EXISTS_ALL,
		/* under a deterministic collation these hash the bytes (the bucket of a repartition) */
		F_HASHTEXT, F_HASHBPCHAR
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
 * ForgetSyntacticNames: a Var of a column read through a join's alias (j.key)
 * keeps that alias as the name to print it by (varnosyn); over "kv.docs
 * docs" alone there is no such alias, so the Var is printed by itself.
 */
static bool
ForgetSyntacticNames(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, Var))
	{
		Var		   *v = (Var *) node;

		v->varnosyn = v->varno;
		v->varattnosyn = v->varattno;
		return false;
	}
	return expression_tree_walker(node, ForgetSyntacticNames, context);
}

/* an expression of kv.docs's columns, as SQL over "kv.docs docs" */
static char *
DeparseOnDocs(Node *expr, Index rti, Oid view_oid)
{
	Node	   *copy = copyObject(expr);

	ChangeVarNodes(copy, rti, 1, 0);
	(void) ForgetSyntacticNames(copy, NULL);
	return deparse_expression(copy, deparse_context_for("docs", view_oid), true, false);
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
	List	   *shipped = NIL;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, conds)
	{
		Relids		relids = pull_varnos(NULL, lfirst(lc));

		/* only conditions on this use of kv.docs alone, at this level */
		if (!bms_equal(relids, bms_make_singleton(rti)) || !Shippable(lfirst(lc), rti))
			continue;
		appendStringInfo(&buf, "%s%s", buf.len > 0 ? " AND " : "",
						 DeparseOnDocs(lfirst(lc), rti, view_oid));
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
	GkvDocsExplainPlanned("router", NULL, NULL);
	ReplaceFunction(e, f->router,
					list_make3(copyObject(ns), copyObject(key),
							   makeBoolConst(with_value, false)));
}

/* the columns a fragment returns, declared at the call of globalkv.docs_fanout */
typedef struct FragmentColumns
{
	List	   *names;			/* String */
	List	   *types;			/* Oid */
	List	   *typmods;		/* int */
	List	   *collations;		/* Oid */
} FragmentColumns;

static void
AddFragmentColumn(FragmentColumns *cols, const char *name, Oid type, int32 typmod, Oid collation)
{
	cols->names = lappend(cols->names, makeString(pstrdup(name)));
	cols->types = lappend_oid(cols->types, type);
	cols->typmods = lappend_int(cols->typmods, typmod);
	cols->collations = lappend_oid(cols->collations, collation);
}

static Const *
TextConst(const char *text)
{
	return makeConst(TEXTOID, -1, DEFAULT_COLLATION_OID, -1, CStringGetTextDatum(text), false, false);
}

/*
 * CallFunction makes the function of the expansion funcid(args) AS (the
 * fragment's columns).
 */
static void
CallFunction(DocsExpansion *e, Oid funcid, List *args, const FragmentColumns *cols)
{
	RangeTblFunction *rtf = linitial_node(RangeTblFunction, e->func_rte->functions);
	FuncExpr   *call;

	call = makeFuncExpr(funcid, RECORDOID, args, InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
	call->funcretset = true;
	rtf->funcexpr = (Node *) call;
	rtf->funccolcount = list_length(cols->names);
	rtf->funccolnames = cols->names;
	rtf->funccoltypes = cols->types;
	rtf->funccoltypmods = cols->typmods;
	rtf->funccolcollations = cols->collations;
	e->func_rte->eref->colnames = list_copy(cols->names);
}

/*
 * CallSigned: funcid(sql, signature) AS (the columns) -- globalkv.docs_fanout
 * or globalkv.docs_repartition, which run only SQL this planner signed.
 */
static void
CallSigned(DocsExpansion *e, Oid funcid, const char *sql, const FragmentColumns *cols)
{
	CallFunction(e, funcid, list_make2(TextConst(sql), TextConst(GkvDocsSignFragment(sql))), cols);
}

/*
 * ReturnFragmentColumns: the expansion of kv.docs now returns the
 * fragment's columns instead of kv.docs's; the query reads those.
 */
static void
ReturnFragmentColumns(DocsExpansion *e, const FragmentColumns *cols)
{
	RangeTblEntry *rte = rt_fetch(e->rti, e->parent->rtable);
	Index		func_index = 0;
	int			column = 0;
	ListCell   *lc;
	ListCell   *lc_name,
			   *lc_type,
			   *lc_typmod,
			   *lc_coll;

	foreach(lc, rte->subquery->rtable)
	{
		func_index++;
		if (lfirst(lc) == e->func_rte)
			break;
	}
	rte->subquery->targetList = NIL;
	forfour(lc_name, cols->names, lc_type, cols->types, lc_typmod, cols->typmods, lc_coll, cols->collations)
	{
		column++;
		rte->subquery->targetList =
			lappend(rte->subquery->targetList,
					makeTargetEntry((Expr *) makeVar(func_index, column, lfirst_oid(lc_type),
													 lfirst_int(lc_typmod), lfirst_oid(lc_coll), 0),
									column, strVal(lfirst(lc_name)), false));
	}
	rte->eref->colnames = list_copy(cols->names);
	if (rte->alias != NULL)
		rte->alias->colnames = NIL;
}

/*
 * OverDocsAlone: is the query a SELECT over this use of kv.docs alone, with
 * every condition on it shippable?  Then what the query does with the rows
 * next -- group them, aggregate them, take the first few in some order --
 * can start on the nodes that hold them.
 */
static bool
OverDocsAlone(DocsExpansion *e, List *conds)
{
	Query	   *q = e->parent;
	List	   *from = q->jointree->fromlist;
	ListCell   *lc;

	if (q->commandType != CMD_SELECT || q->setOperations != NULL || q->rowMarks != NIL ||
		q->hasSubLinks || q->hasWindowFuncs || q->hasTargetSRFs || q->groupingSets != NIL)
		return false;
	if (list_length(from) != 1 || !IsA(linitial(from), RangeTblRef) ||
		((RangeTblRef *) linitial(from))->rtindex != (int) e->rti)
		return false;
	foreach(lc, conds)
		if (!bms_equal(pull_varnos(NULL, lfirst(lc)), bms_make_singleton(e->rti)) ||
			!Shippable(lfirst(lc), e->rti))
			return false;
	return true;
}


/* does ordering by expr under its collation mean the same on every node? */
static bool
OrderShippable(Node *expr, Index rti)
{
	Oid			collation = exprCollation(expr);

	/* jsonb has no collation, yet orders its strings by the database's */
	return Shippable(expr, rti) && IsBuiltin(exprType(expr)) && exprType(expr) != JSONBOID &&
		(!OidIsValid(collation) || collation == C_COLLATION_OID || collation == POSIX_COLLATION_OID);
}

/*
 * DeparseTopRows: for a query that only keeps the first rows of kv.docs in
 * some order (ORDER BY ... LIMIT, no grouping or DISTINCT), " ORDER BY ...
 * LIMIT n" for its fragment, n covering the OFFSET too: no node need send
 * more rows than the query keeps.  The query still sorts and limits here.
 * NULL when it does not apply.
 */
static char *
DeparseTopRows(DocsExpansion *e, List *conds)
{
	Query	   *q = e->parent;
	StringInfoData buf;
	int64		keep = 0;
	ListCell   *lc;

	if (!OverDocsAlone(e, conds) || q->hasAggs || q->groupClause != NIL || q->havingQual != NULL ||
		q->distinctClause != NIL || q->sortClause == NIL || q->limitOption != LIMIT_OPTION_COUNT ||
		q->limitCount == NULL)
		return NULL;
	foreach(lc, list_make2(q->limitCount, q->limitOffset))
	{
		Const	   *c;

		if (lfirst(lc) == NULL)
			continue;
		/* LIMIT 10 is still int8(10) here */
		c = (Const *) eval_const_expressions(NULL, copyObject(lfirst(lc)));
		if (!IsA(c, Const) || c->consttype != INT8OID || c->constisnull ||
			DatumGetInt64(c->constvalue) < 0 || DatumGetInt64(c->constvalue) > PG_INT32_MAX)
			return NULL;
		keep += DatumGetInt64(c->constvalue);
	}
	initStringInfo(&buf);
	foreach(lc, q->sortClause)
	{
		SortGroupClause *sgc = lfirst_node(SortGroupClause, lc);
		Node	   *expr = get_sortgroupclause_expr(sgc, q->targetList);
		TypeCacheEntry *type = lookup_type_cache(exprType(expr), TYPECACHE_LT_OPR | TYPECACHE_GT_OPR);
		const char *direction;

		/* only the type's own ordering, which the fragment can name */
		if (sgc->sortop == type->lt_opr)
			direction = "ASC";
		else if (sgc->sortop == type->gt_opr)
			direction = "DESC";
		else
			return NULL;
		if (!OrderShippable(expr, e->rti))
			return NULL;
		appendStringInfo(&buf, "%s%s %s NULLS %s", buf.len == 0 ? " ORDER BY " : ", ",
						 DeparseOnDocs(expr, e->rti, e->view_oid), direction,
						 sgc->nulls_first ? "FIRST" : "LAST");
	}
	appendStringInfo(&buf, " LIMIT " INT64_FORMAT, keep);
	return buf.data;
}

/* ----------------------------------------------------------------
 * Aggregates pushed down: each node groups and aggregates its own rows,
 * the partial results are combined here
 * ----------------------------------------------------------------
 */

/* how the partial results of an aggregate are combined here */
typedef enum CombineKind
{
	COMBINE_NONE,				/* not pushed down */
	COMBINE_SAME,				/* min, max, bool_and, bool_or, sum over its own type:
								 * the same aggregate over the partial results */
	COMBINE_COUNT,				/* the partial counts added; 0 when there are none */
	COMBINE_SUM_INT,			/* sum of int2/int4: int8 partial sums added, as int8 */
	COMBINE_SUM_INT8,			/* sum of int8: numeric partial sums added */
	COMBINE_AVG_NUMERIC,		/* avg of integers or numeric: the partial sums and
								 * counts travel; sum / count, as avg computes it */
	COMBINE_AVG_FLOAT8			/* avg of float8: the same in float8 */
} CombineKind;

/*
 * The built-in aggregates pushed down.  Each combines exactly as it would
 * aggregate on one node (avg divides the same sum by the same count), so
 * only the order of additions differs -- which matters for floats alone,
 * as it does between two plans of one node.
 */
static CombineKind
CombineKindOf(Oid aggfnoid, bool *collation_sensitive)
{
	*collation_sensitive = false;
	switch (aggfnoid)
	{
		case F_COUNT_:
		case F_COUNT_ANY:
			return COMBINE_COUNT;
		case F_SUM_INT2:
		case F_SUM_INT4:
			return COMBINE_SUM_INT;
		case F_SUM_INT8:
			return COMBINE_SUM_INT8;
		case F_AVG_INT2:
		case F_AVG_INT4:
		case F_AVG_INT8:
		case F_AVG_NUMERIC:
			return COMBINE_AVG_NUMERIC;
		case F_AVG_FLOAT8:
			return COMBINE_AVG_FLOAT8;
		case F_MIN_TEXT:
		case F_MAX_TEXT:
		case F_MIN_BPCHAR:
		case F_MAX_BPCHAR:
			*collation_sensitive = true;
			return COMBINE_SAME;
		case F_SUM_NUMERIC:
		case F_SUM_FLOAT4:
		case F_SUM_FLOAT8:
		case F_SUM_INTERVAL:
		case F_SUM_MONEY:
		case F_BOOL_AND:
		case F_BOOL_OR:
		case F_EVERY:
		case F_MIN_INT2:
		case F_MAX_INT2:
		case F_MIN_INT4:
		case F_MAX_INT4:
		case F_MIN_INT8:
		case F_MAX_INT8:
		case F_MIN_OID:
		case F_MAX_OID:
		case F_MIN_FLOAT4:
		case F_MAX_FLOAT4:
		case F_MIN_FLOAT8:
		case F_MAX_FLOAT8:
		case F_MIN_NUMERIC:
		case F_MAX_NUMERIC:
		case F_MIN_DATE:
		case F_MAX_DATE:
		case F_MIN_TIME:
		case F_MAX_TIME:
		case F_MIN_TIMETZ:
		case F_MAX_TIMETZ:
		case F_MIN_TIMESTAMP:
		case F_MAX_TIMESTAMP:
		case F_MIN_TIMESTAMPTZ:
		case F_MAX_TIMESTAMPTZ:
		case F_MIN_INTERVAL:
		case F_MAX_INTERVAL:
		case F_MIN_MONEY:
		case F_MAX_MONEY:
			return COMBINE_SAME;
		default:
			return COMBINE_NONE;
	}
}

typedef struct GroupedContext
{
	Index		rti;
	Index		other_rti;		/* a join's other use of kv.docs, or 0 */
	List	   *group_exprs;	/* the GROUP BY expressions: the first columns */
	List	   *partials;		/* the partial aggregates: the next columns */
	Node	   *distinct_key;	/* repartitioned by this value: count(DISTINCT it) only */
	bool		failed;			/* something here must see the rows themselves */
} GroupedContext;

/* Shippable, for an expression over one use of kv.docs or (a join) two */
static bool
ShippableIn(const GroupedContext *ctx, Node *expr)
{
	if (ctx->other_rti != 0)
	{
		expr = copyObject(expr);
		ChangeVarNodes(expr, ctx->other_rti, ctx->rti, 0);
	}
	return Shippable(expr, ctx->rti);
}

static Node *
MakeAggregate(Oid aggfnoid, Oid argtype, Oid rettype, Oid collation, Oid inputcollid, Node *arg)
{
	Aggref	   *a = makeNode(Aggref);

	a->aggfnoid = aggfnoid;
	a->aggtype = rettype;
	a->aggcollid = collation;
	a->inputcollid = inputcollid;
	a->aggtranstype = InvalidOid;	/* the planner fills it in */
	a->aggargtypes = list_make1_oid(argtype);
	a->args = list_make1(makeTargetEntry((Expr *) arg, 1, NULL, false));
	a->aggkind = AGGKIND_NORMAL;
	a->aggsplit = AGGSPLIT_SIMPLE;
	a->aggno = -1;
	a->aggtransno = -1;
	a->location = -1;
	return (Node *) a;
}

/* expr's position (from 0) in *columns, where it is appended when not there yet */
static int
PositionOf(List **columns, Node *expr)
{
	int			position = 0;
	ListCell   *lc;

	foreach(lc, *columns)
	{
		if (equal(lfirst(lc), expr))
			return position;
		position++;
	}
	*columns = lappend(*columns, expr);
	return position;
}

/* the column of a partial aggregate in the fragment (one column per distinct one) */
static Var *
PartialColumn(GroupedContext *ctx, Aggref *partial)
{
	int			position = PositionOf(&ctx->partials, (Node *) partial);

	return makeVar(ctx->rti, list_length(ctx->group_exprs) + position + 1, partial->aggtype, -1,
				   partial->aggcollid, 0);
}

/* a copy of aggregate a computing something else over the same rows */
static Aggref *
PartialOf(Aggref *a, Oid aggfnoid, Oid aggtype)
{
	Aggref	   *p = copyObject(a);

	p->aggfnoid = aggfnoid;
	p->aggtype = aggtype;
	if (aggtype != a->aggtype)
		p->aggcollid = InvalidOid;
	p->aggtranstype = InvalidOid;
	p->aggno = -1;
	p->aggtransno = -1;
	return p;
}

/* the counts of the nodes (or buckets) added; 0 when there are none */
static Node *
CombineCounts(Var *partial)
{
	CoalesceExpr *c = makeNode(CoalesceExpr);
	Node	   *sum;

	sum = (Node *) makeFuncExpr(F_INT8_NUMERIC, INT8OID,
								list_make1(MakeAggregate(F_SUM_INT8, INT8OID, NUMERICOID,
														 InvalidOid, InvalidOid, (Node *) partial)),
								InvalidOid, InvalidOid, COERCE_EXPLICIT_CAST);
	c->coalescetype = INT8OID;
	c->coalescecollid = InvalidOid;
	c->args = list_make2(sum, makeConst(INT8OID, -1, InvalidOid, 8, Int64GetDatum(0), false,
										FLOAT8PASSBYVAL));
	c->location = -1;
	return (Node *) c;
}

/*
 * CombineAggregate: the expression that computes aggregate a here from the
 * partial results of the nodes; NULL (and ctx->failed) when a is not
 * pushed down.
 */
static Node *
CombineAggregate(Aggref *a, GroupedContext *ctx)
{
	bool		collation_sensitive;
	CombineKind kind = CombineKindOf(a->aggfnoid, &collation_sensitive);
	Oid			argtype = list_length(a->aggargtypes) == 1 ? linitial_oid(a->aggargtypes) : InvalidOid;
	ListCell   *lc;
	Var		   *partial;

	if (ctx->distinct_key != NULL)
	{
		/* each bucket counts the distinct values of its own: they add up */
		if (a->aggfnoid != F_COUNT_ANY || a->agglevelsup != 0 || a->aggdistinct == NIL ||
			a->aggfilter != NULL || list_length(a->args) != 1 ||
			!equal(linitial_node(TargetEntry, a->args)->expr, ctx->distinct_key))
		{
			ctx->failed = true;
			return NULL;
		}
		return CombineCounts(PartialColumn(ctx, PartialOf(a, F_COUNT_ANY, INT8OID)));
	}
	if (kind == COMBINE_NONE || a->agglevelsup != 0 || a->aggdistinct != NIL ||
		a->aggorder != NIL || a->aggdirectargs != NIL || a->aggkind != AGGKIND_NORMAL ||
		a->aggvariadic || (a->aggfilter != NULL && !ShippableIn(ctx, (Node *) a->aggfilter)) ||
		(collation_sensitive && a->inputcollid != C_COLLATION_OID &&
		 a->inputcollid != POSIX_COLLATION_OID))
	{
		ctx->failed = true;
		return NULL;
	}
	foreach(lc, a->args)
		if (!ShippableIn(ctx, (Node *) lfirst_node(TargetEntry, lc)->expr))
		{
			ctx->failed = true;
			return NULL;
		}

	switch (kind)
	{
		case COMBINE_SAME:
			partial = PartialColumn(ctx, PartialOf(a, a->aggfnoid, a->aggtype));
			return MakeAggregate(a->aggfnoid, a->aggtype, a->aggtype, a->aggcollid,
								 a->inputcollid, (Node *) partial);
		case COMBINE_COUNT:
			return CombineCounts(PartialColumn(ctx, PartialOf(a, a->aggfnoid, INT8OID)));
		case COMBINE_SUM_INT:
			return (Node *) makeFuncExpr(F_INT8_NUMERIC, INT8OID,
										 list_make1(MakeAggregate(F_SUM_INT8, INT8OID, NUMERICOID,
																  InvalidOid, InvalidOid,
																  (Node *) PartialColumn(ctx, PartialOf(a, a->aggfnoid, INT8OID)))),
										 InvalidOid, InvalidOid, COERCE_EXPLICIT_CAST);
		case COMBINE_SUM_INT8:
			return MakeAggregate(F_SUM_NUMERIC, NUMERICOID, NUMERICOID, InvalidOid, InvalidOid,
								 (Node *) PartialColumn(ctx, PartialOf(a, a->aggfnoid, NUMERICOID)));
		case COMBINE_AVG_NUMERIC:
		case COMBINE_AVG_FLOAT8:
			{
				Oid			sum_fn;
				Oid			sum_type;
				Node	   *sums;
				Node	   *counts;

				switch (argtype)
				{
					case INT2OID:
						sum_fn = F_SUM_INT2;
						sum_type = INT8OID;
						break;
					case INT4OID:
						sum_fn = F_SUM_INT4;
						sum_type = INT8OID;
						break;
					case INT8OID:
						sum_fn = F_SUM_INT8;
						sum_type = NUMERICOID;
						break;
					case NUMERICOID:
						sum_fn = F_SUM_NUMERIC;
						sum_type = NUMERICOID;
						break;
					default:
						sum_fn = F_SUM_FLOAT8;
						sum_type = FLOAT8OID;
						break;
				}
				partial = PartialColumn(ctx, PartialOf(a, sum_fn, sum_type));
				counts = MakeAggregate(F_SUM_INT8, INT8OID, NUMERICOID, InvalidOid, InvalidOid,
									   (Node *) PartialColumn(ctx, PartialOf(a, F_COUNT_ANY, INT8OID)));

				/*
				 * sum / count; when no node saw a value the sum is NULL, and
				 * so is the quotient (the division is strict), as avg's is.
				 */
				if (kind == COMBINE_AVG_FLOAT8)
				{
					sums = MakeAggregate(F_SUM_FLOAT8, FLOAT8OID, FLOAT8OID, InvalidOid, InvalidOid,
										 (Node *) partial);
					counts = (Node *) makeFuncExpr(F_FLOAT8_NUMERIC, FLOAT8OID, list_make1(counts),
												   InvalidOid, InvalidOid, COERCE_EXPLICIT_CAST);
					return (Node *) makeFuncExpr(F_FLOAT8DIV, FLOAT8OID, list_make2(sums, counts),
												 InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
				}
				sums = MakeAggregate(sum_type == INT8OID ? F_SUM_INT8 : F_SUM_NUMERIC, sum_type,
									 NUMERICOID, InvalidOid, InvalidOid, (Node *) partial);
				return (Node *) makeFuncExpr(F_NUMERIC_DIV, NUMERICOID, list_make2(sums, counts),
											 InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
			}
		case COMBINE_NONE:
			break;
	}
	ctx->failed = true;
	return NULL;
}

/*
 * GroupedMutator rewrites the target list and HAVING of the query over the
 * fragment's columns: a GROUP BY expression becomes its column, an
 * aggregate its combination; a column of kv.docs left over means the query
 * needs the rows themselves (ctx->failed).
 */
static Node *
GroupedMutator(Node *node, GroupedContext *ctx)
{
	int			index = 0;
	ListCell   *lc;

	if (node == NULL || ctx->failed)
		return node;
	if (IsA(node, Aggref))
		return CombineAggregate((Aggref *) node, ctx);
	foreach(lc, ctx->group_exprs)
	{
		Node	   *g = lfirst(lc);

		index++;
		if (equal(node, g))
			return (Node *) makeVar(ctx->rti, index, exprType(g), exprTypmod(g), exprCollation(g), 0);
	}
	if ((IsA(node, Var) && ((Var *) node)->varlevelsup == 0 &&
		 (((Var *) node)->varno == ctx->rti || ((Var *) node)->varno == ctx->other_rti)) ||
		IsA(node, GroupingFunc))
	{
		ctx->failed = true;
		return node;
	}
	return expression_tree_mutator(node, GroupedMutator, ctx);
}

/* a GROUP BY expression that groups alike on every node, and comes back as it went */
static bool
GroupShippable(Node *expr, Index rti)
{
	Oid			collation = exprCollation(expr);

	return Shippable(expr, rti) && IsBuiltin(exprType(expr)) &&
		(!OidIsValid(collation) || collation == DEFAULT_COLLATION_OID ||
		 collation == C_COLLATION_OID || collation == POSIX_COLLATION_OID);
}

/*
 * PlanFanoutGrouped: a query that groups or aggregates kv.docs alone, with
 * every condition, GROUP BY expression and aggregate shippable, runs its
 * grouping on every node -- the fragment returns one row per group per
 * node (one row per node with no GROUP BY) holding the GROUP BY values and
 * the partial aggregates -- and here groups those rows again, combining
 * the partials.  HAVING, ORDER BY, LIMIT and DISTINCT then run here as
 * written.  False when the query does not qualify: the rows travel.
 */
static bool
PlanFanoutGrouped(DocsExpansion *e, const DocsFunctions *f, List *conds)
{
	Query	   *q = e->parent;
	GroupedContext ctx = {0};
	List	   *tlist;
	Node	   *having;
	StringInfoData sql;
	FragmentColumns cols = {0};
	char	   *where;
	int			column = 0;
	ListCell   *lc;

	if ((!q->hasAggs && q->groupClause == NIL) || !OverDocsAlone(e, conds))
		return false;
	ctx.rti = e->rti;
	foreach(lc, q->groupClause)
	{
		Node	   *expr = get_sortgroupclause_expr(lfirst_node(SortGroupClause, lc), q->targetList);

		if (!GroupShippable(expr, e->rti))
			return false;
		ctx.group_exprs = lappend(ctx.group_exprs, expr);
	}
	tlist = (List *) GroupedMutator(copyObject((Node *) q->targetList), &ctx);
	having = GroupedMutator(copyObject(q->havingQual), &ctx);
	if (ctx.failed)
		return false;

	/* the fragment: GROUP BY values, then partial aggregates */
	where = ShipConditions(q, conds, e->rti, e->view_oid);
	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT ");
	foreach(lc, list_concat_copy(ctx.group_exprs, ctx.partials))
	{
		Node	   *expr = lfirst(lc);
		char		name[16];

		column++;
		if (column <= list_length(ctx.group_exprs))
			snprintf(name, sizeof(name), "g%d", column);
		else
			snprintf(name, sizeof(name), "p%d", column - list_length(ctx.group_exprs));
		appendStringInfo(&sql, "%s%s", column > 1 ? ", " : "",
						 DeparseOnDocs(expr, e->rti, e->view_oid));
		AddFragmentColumn(&cols, name, exprType(expr), exprTypmod(expr), exprCollation(expr));
	}
	appendStringInfo(&sql, GKV_DOCS_FRAGMENT_WHERE "%s", where);
	for (int g = 1; g <= list_length(ctx.group_exprs); g++)
		appendStringInfo(&sql, "%s%d", g == 1 ? " GROUP BY " : ", ", g);
	CallSigned(e, f->fanout, sql.data, &cols);
	GkvDocsExplainPlanned("fan-out",
						  psprintf("%s%s%s", strcmp(where, "true") != 0 ? "WHERE, " : "",
								   ctx.group_exprs != NIL ? "GROUP BY, " : "",
								   ctx.partials != NIL ? "partial aggregates (combined here)" : "each node's groups (combined here)"),
						  sql.data);

	ReturnFragmentColumns(e, &cols);
	q->targetList = tlist;
	q->havingQual = having;
	return true;
}

/* ----------------------------------------------------------------
 * Repartitioned: grouping that cannot be split into partial results
 * ----------------------------------------------------------------
 */

/*
 * BucketHash: hash(key) with the type's own hash function, which hashes
 * equal values alike (1.0 and 1.00, for numeric), so all rows of a group,
 * all copies of a value, all rows a join pairs, meet in one bucket.  NULL
 * when key's type has no built-in hash function SQL can call.
 */
static Node *
BucketHash(Node *key)
{
	TypeCacheEntry *type = lookup_type_cache(exprType(key), TYPECACHE_HASH_PROC);
	Oid		   *argtypes;
	int			nargs;

	/* bool's hash function takes "char": SQL could not call it on a bool */
	if (!OidIsValid(type->hash_proc) || !FunctionShippable(type->hash_proc) ||
		get_func_signature(type->hash_proc, &argtypes, &nargs) != INT4OID || nargs != 1 ||
		!IsBinaryCoercible(exprType(key), argtypes[0]))
		return NULL;
	return (Node *) makeFuncExpr(type->hash_proc, INT4OID, list_make1(copyObject(key)), InvalidOid,
								 exprCollation(key), COERCE_EXPLICIT_CALL);
}

static Expr *BucketExpr(Node *hash);

/*
 * BucketCondition: BucketExpr of key, as SQL over "kv.docs docs"; NULL
 * when key cannot be hashed.
 */
static char *
BucketCondition(Node *key, DocsExpansion *e)
{
	Node	   *hash = BucketHash(key);

	return hash ? DeparseOnDocs((Node *) BucketExpr(hash), e->rti, e->view_oid) : NULL;
}

/*
 * ReadFinishedRows: the buckets returned the query's target list itself,
 * column for column; here each entry reads its column of rti.
 */
static void
ReadFinishedRows(Query *q, Index rti)
{
	int			column = 0;
	ListCell   *lc;

	foreach(lc, q->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);
		Node	   *expr = (Node *) tle->expr;

		column++;
		tle->expr = (Expr *) makeVar(rti, column, exprType(expr), exprTypmod(expr),
									 exprCollation(expr), 0);
	}
}

/* the first aggregate over DISTINCT values in a tree, or NULL */
static bool
FindDistinctAggregate(Node *node, Aggref **found)
{
	if (node == NULL)
		return false;
	if (IsA(node, Aggref) && ((Aggref *) node)->aggdistinct != NIL)
	{
		*found = (Aggref *) node;
		return true;
	}
	return expression_tree_walker(node, FindDistinctAggregate, found);
}

/*
 * PlanRepartitionDistinct: count(DISTINCT x) over kv.docs alone, with no
 * GROUP BY.  Node i of the zone's n nodes counts the distinct values x of
 * bucket i; to do so it asks every node for its distinct values of that
 * bucket (a GROUP BY on each node).  Here the n counts are added.  This
 * node never sees the values themselves: its memory does not grow with
 * their number.
 */
static bool
PlanRepartitionDistinct(DocsExpansion *e, const DocsFunctions *f, List *conds)
{
	Query	   *q = e->parent;
	GroupedContext ctx = {0};
	Aggref	   *distinct = NULL;
	Node	   *key;
	List	   *tlist;
	Node	   *having;
	char	   *bucket;
	char	   *where;
	char	   *sql;
	FragmentColumns cols = {0};

	if (q->groupClause != NIL || !q->hasAggs || GkvDocsRunningBucket() || !OverDocsAlone(e, conds) ||
		!FindDistinctAggregate((Node *) q->targetList, &distinct) ||
		list_length(distinct->args) != 1)
		return false;
	key = (Node *) linitial_node(TargetEntry, distinct->args)->expr;
	if (!GroupShippable(key, e->rti) || (bucket = BucketCondition(key, e)) == NULL)
		return false;
	ctx.rti = e->rti;
	ctx.distinct_key = key;
	tlist = (List *) GroupedMutator(copyObject((Node *) q->targetList), &ctx);
	having = GroupedMutator(copyObject(q->havingQual), &ctx);
	if (ctx.failed || list_length(ctx.partials) != 1)
		return false;

	where = ShipConditions(q, conds, e->rti, e->view_oid);
	sql = psprintf("SELECT pg_catalog.count(s.v) FROM (SELECT %s AS v" GKV_DOCS_FRAGMENT_WHERE
				   "%s AND %s GROUP BY 1) s",
				   DeparseOnDocs(key, e->rti, e->view_oid), where, bucket);
	AddFragmentColumn(&cols, "p1", INT8OID, -1, InvalidOid);
	CallSigned(e, f->repartition, sql, &cols);
	GkvDocsExplainPlanned("repartition",
						  "count(DISTINCT) by a hash of the value: each node counts the distinct values of its bucket, gathered from every node's GROUP BY; the counts are added here",
						  sql);
	ReturnFragmentColumns(e, &cols);
	q->targetList = tlist;
	q->havingQual = having;
	return true;
}

typedef struct AggregatesContext
{
	Index		rti;
	bool		ok;
} AggregatesContext;

/*
 * AggregatesAsNulls: expr with each aggregate replaced by a NULL of its
 * type, for the shipping rules to judge the rest; ctx->ok goes false when
 * an aggregate itself could come out differently on another node (not
 * built in, arguments not shippable, values ordered by a locale's rules).
 */
static Node *
AggregatesAsNulls(Node *node, AggregatesContext *ctx)
{
	if (node == NULL)
		return NULL;
	if (IsA(node, Aggref))
	{
		Aggref	   *a = (Aggref *) node;
		Oid			coll = a->inputcollid;
		ListCell   *lc;

		if (!IsBuiltin(a->aggfnoid) || a->agglevelsup != 0 || a->aggkind != AGGKIND_NORMAL ||
			a->aggdirectargs != NIL ||
			(a->aggfilter != NULL && !Shippable((Node *) a->aggfilter, ctx->rti)) ||
			(OidIsValid(coll) && coll != C_COLLATION_OID && coll != POSIX_COLLATION_OID &&
			 !(a->aggfnoid == F_COUNT_ANY && a->aggorder == NIL)))
			ctx->ok = false;
		foreach(lc, a->args)
			if (!Shippable((Node *) lfirst_node(TargetEntry, lc)->expr, ctx->rti))
				ctx->ok = false;
		return (Node *) makeNullConst(a->aggtype, -1, a->aggcollid);
	}
	return expression_tree_mutator(node, AggregatesAsNulls, ctx);
}

/*
 * PlanRepartitionGroups: a GROUP BY over kv.docs alone whose aggregates
 * cannot be split into partial results (count(DISTINCT), string_agg, ...).
 * The groups are repartitioned by a hash of the first GROUP BY expression:
 * node i of the zone's n nodes computes the whole query -- aggregates and
 * HAVING -- for the groups of bucket i, asking every node for that
 * bucket's rows, and returns its finished groups.  Here they are only
 * sorted, limited, made DISTINCT as the query says.
 */
static bool
PlanRepartitionGroups(DocsExpansion *e, const DocsFunctions *f, List *conds)
{
	Query	   *q = e->parent;
	StringInfoData sql;
	FragmentColumns cols = {0};
	Node	   *key;
	char	   *bucket;
	char	   *where;
	AggregatesContext ctx = {e->rti, true};
	int			column = 0;
	ListCell   *lc;

	if (q->groupClause == NIL || GkvDocsRunningBucket() || !OverDocsAlone(e, conds))
		return false;
	foreach(lc, q->groupClause)
		if (!GroupShippable(get_sortgroupclause_expr(lfirst_node(SortGroupClause, lc), q->targetList),
							e->rti))
			return false;
	key = get_sortgroupclause_expr(linitial_node(SortGroupClause, q->groupClause), q->targetList);
	if ((bucket = BucketCondition(key, e)) == NULL)
		return false;
	/* everything else must mean the same on the other node */
	foreach(lc, q->targetList)
	{
		Node	   *expr = AggregatesAsNulls(copyObject((Node *) lfirst_node(TargetEntry, lc)->expr), &ctx);

		ctx.ok &= Shippable(expr, e->rti);
	}
	if (q->havingQual != NULL)
		ctx.ok &= Shippable(AggregatesAsNulls(copyObject(q->havingQual), &ctx), e->rti);
	if (!ctx.ok)
		return false;

	where = ShipConditions(q, conds, e->rti, e->view_oid);
	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT ");
	foreach(lc, q->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);
		char		name[16];

		column++;
		snprintf(name, sizeof(name), "c%d", column);
		appendStringInfo(&sql, "%s%s", column > 1 ? ", " : "",
						 DeparseOnDocs((Node *) tle->expr, e->rti, e->view_oid));
		AddFragmentColumn(&cols, name, exprType((Node *) tle->expr), exprTypmod((Node *) tle->expr),
						  exprCollation((Node *) tle->expr));
	}
	appendStringInfo(&sql, GKV_DOCS_FRAGMENT_WHERE "%s AND %s", where, bucket);
	foreach(lc, q->groupClause)
	{
		SortGroupClause *sgc = lfirst_node(SortGroupClause, lc);
		ListCell   *lc2;
		int			position = 0;

		foreach(lc2, q->targetList)
		{
			position++;
			if (lfirst_node(TargetEntry, lc2)->ressortgroupref == sgc->tleSortGroupRef)
				break;
		}
		appendStringInfo(&sql, "%s%d", foreach_current_index(lc) == 0 ? " GROUP BY " : ", ", position);
	}
	if (q->havingQual != NULL)
		appendStringInfo(&sql, " HAVING %s", DeparseOnDocs(q->havingQual, e->rti, e->view_oid));
	CallSigned(e, f->repartition, sql.data, &cols);
	GkvDocsExplainPlanned("repartition",
						  "the whole GROUP BY, by a hash of its first expression: each node aggregates the groups of its bucket, gathered from every node",
						  sql.data);
	ReturnFragmentColumns(e, &cols);

	/* here only the finished groups are read */
	ReadFinishedRows(q, e->rti);
	q->groupClause = NIL;
	q->havingQual = NULL;
	q->hasAggs = false;
	return true;
}

/* ----------------------------------------------------------------
 * Rows, projected: what the query reads of kv.docs, computed on the nodes
 * ----------------------------------------------------------------
 */
typedef struct ProjectionContext
{
	Index		rti;
	List	   *exprs;			/* what the fragment returns, in order */
} ProjectionContext;

/*
 * CannotProject: is kv.docs referenced where the query cannot be rewritten
 * over computed columns -- from a subquery (a correlated reference), as a
 * whole row or a system column?  Then the fragment returns kv.docs's own
 * columns.  (References from other range-table entries: VarOf.)
 */
static bool
CannotProject(Var *v, int depth, void *arg)
{
	Index		rti = *(Index *) arg;

	return v->varno == rti && v->varlevelsup == depth &&
		(depth > 0 || v->varattno < 1 || v->varattno > DOCS_NATTS);
}

/* does the query read a join's own columns (USING, NATURAL)? */
static bool
JoinColumn(Var *v, int depth, void *arg)
{
	Query	   *q = arg;

	return v->varlevelsup == depth && rt_fetch(v->varno, q->rtable)->rtekind == RTE_JOIN;
}

/* a Var of this use of kv.docs (arg: its index) */
static bool
VarOf(Var *v, int depth, void *arg)
{
	return v->varno == *(Index *) arg && v->varlevelsup == depth;
}

/* the fragment's column computing expr (one per distinct expression) */
static Node *
ProjectedColumn(ProjectionContext *ctx, Node *expr)
{
	int			position = PositionOf(&ctx->exprs, copyObject(expr));

	return (Node *) makeVar(ctx->rti, position + 1, exprType(expr), exprTypmod(expr), exprCollation(expr), 0);
}

/*
 * JsonNavigation: value->'a'->>'b', value #>> '{a,b}', value->>0 over this
 * kv.docs -- strict and unable to fail, so computing it before a filter, a
 * CASE or an outer join that might have kept it from being computed, or
 * that adds NULL rows, changes nothing.  (A cast such as (value->>'n')::int
 * can fail on a document the query never meant to read: it is computed
 * here, from the field.)
 */
static bool
JsonNavigation(Node *node, Index rti)
{
	static const Oid navigation[] = {
		F_JSONB_OBJECT_FIELD, F_JSONB_OBJECT_FIELD_TEXT, F_JSONB_EXTRACT_PATH,
		F_JSONB_EXTRACT_PATH_TEXT, F_JSONB_ARRAY_ELEMENT, F_JSONB_ARRAY_ELEMENT_TEXT
	};
	Oid			funcid;
	List	   *args;
	Node	   *object;
	ListCell   *lc;
	bool		found = false;

	if (IsA(node, OpExpr))
	{
		set_opfuncid((OpExpr *) node);
		funcid = ((OpExpr *) node)->opfuncid;
		args = ((OpExpr *) node)->args;
	}
	else if (IsA(node, FuncExpr))
	{
		funcid = ((FuncExpr *) node)->funcid;
		args = ((FuncExpr *) node)->args;
	}
	else
		return false;
	for (int i = 0; i < lengthof(navigation) && !found; i++)
		found = funcid == navigation[i];
	if (!found || args == NIL)
		return false;
	object = linitial(args);
	if (!(IsA(object, Var) && ((Var *) object)->varno == rti && ((Var *) object)->varlevelsup == 0 &&
		  ((Var *) object)->varattno == DOCS_VALUE) && !JsonNavigation(object, rti))
		return false;
	for_each_from(lc, args, 1)
		if (!IsA(lfirst(lc), Const) && !(IsA(lfirst(lc), ArrayExpr) &&
										 !contain_var_clause(lfirst(lc)) &&
										 !contain_volatile_functions(lfirst(lc))))
			return false;
	return Shippable(node, rti);
}

/*
 * ProjectMutator replaces each column of this kv.docs, and each largest
 * JSON navigation into its value, by a column of the fragment that
 * computes it on the nodes.
 */
static Node *
ProjectMutator(Node *node, ProjectionContext *ctx)
{
	if (node == NULL || IsA(node, Query))
		return node;
	if (IsA(node, Var))
		return ((Var *) node)->varno == ctx->rti && ((Var *) node)->varlevelsup == 0 ?
			ProjectedColumn(ctx, node) : node;
	if (JsonNavigation(node, ctx->rti))
		return ProjectedColumn(ctx, node);
	return expression_tree_mutator(node, ProjectMutator, ctx);
}

/*
 * Rows: the fragment returns, for each row that passes the conditions it
 * could ship, what the query reads of it -- its columns and the JSON
 * navigation into its value, computed there (value->>'customer' travels,
 * not value) -- and, when the query is one ORDER BY ... LIMIT over kv.docs
 * alone, only each node's first rows in that order.  Joins, sorting and
 * the rest run here over those columns.  Where the query reads kv.docs in
 * a way that cannot be rewritten so, the fragment returns its columns (the
 * ones never read as NULL).
 */
static void
PlanFanoutRows(DocsExpansion *e, const DocsFunctions *f, List *conds)
{
	static const Oid types[DOCS_NATTS] = {TEXTOID, TEXTOID, JSONBOID, TEXTOID, TIMESTAMPTZOID};
	StringInfoData sql;
	char	   *top = DeparseTopRows(e, conds);
	char	   *where = ShipConditions(e->parent, conds, e->rti, e->view_oid);
	ProjectionContext ctx = {e->rti, NIL};
	VarWalk		unprojectable = {CannotProject, &e->rti, 0};
	VarWalk		join_columns = {JoinColumn, e->parent, 0};
	VarWalk		references = {VarOf, &e->rti, 0};
	FragmentColumns cols = {0};
	bool		projected;
	ListCell   *lc;

	/* a join's own alias columns (joinaliasvars) are not references: see below */
	projected = e->parent->groupingSets == NIL &&
		!query_tree_walker(e->parent, AnyVar, &unprojectable, QTW_IGNORE_RANGE_TABLE) &&
		!query_tree_walker(e->parent, AnyVar, &join_columns, QTW_IGNORE_JOINALIASES);
	foreach(lc, e->parent->rtable)
	{
		RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);

		if (projected && rte->rtekind != RTE_JOIN)
			projected = !range_table_entry_walker(rte, AnyVar, &references, 0);
	}
	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT ");
	if (projected)
	{
		Query	   *q = e->parent;

		/* (query_tree_mutator would rewrite the range table's entries too) */
		q->targetList = (List *) ProjectMutator((Node *) q->targetList, &ctx);
		q->returningList = (List *) ProjectMutator((Node *) q->returningList, &ctx);
		q->jointree = (FromExpr *) ProjectMutator((Node *) q->jointree, &ctx);
		q->havingQual = ProjectMutator(q->havingQual, &ctx);
		q->limitOffset = ProjectMutator(q->limitOffset, &ctx);
		q->limitCount = ProjectMutator(q->limitCount, &ctx);
		q->onConflict = (OnConflictExpr *) ProjectMutator((Node *) q->onConflict, &ctx);
		q->withCheckOptions = (List *) ProjectMutator((Node *) q->withCheckOptions, &ctx);
		q->mergeActionList = (List *) ProjectMutator((Node *) q->mergeActionList, &ctx);

		/*
		 * The joins' alias columns name kv.docs's old columns; nothing reads
		 * them (JoinColumn), and the planner must not map them.
		 */
		foreach(lc, e->parent->rtable)
		{
			RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);

			if (rte->rtekind == RTE_JOIN)
			{
				rte->joinaliasvars = NIL;
				rte->joinleftcols = NIL;
				rte->joinrightcols = NIL;
				rte->joinmergedcols = 0;
			}
		}
		/* a query that reads nothing of the rows still counts them */
		if (ctx.exprs == NIL)
			ctx.exprs = list_make1(makeBoolConst(true, false));
		foreach(lc, ctx.exprs)
		{
			Node	   *expr = lfirst(lc);

			appendStringInfo(&sql, "%s%s", foreach_current_index(lc) > 0 ? ", " : "",
							 DeparseOnDocs(expr, e->rti, e->view_oid));
			AddFragmentColumn(&cols, psprintf("c%d", foreach_current_index(lc) + 1), exprType(expr),
							  exprTypmod(expr), exprCollation(expr));
		}
	}
	else
	{
		bool		used[DOCS_NATTS + 1];

		UsedColumns(e->parent, e->rti, used);
		for (int att = 1; att <= DOCS_NATTS; att++)
		{
			if (att > 1)
				appendStringInfoString(&sql, ", ");
			/* a column the query never reads does not travel */
			if (used[att])
				appendStringInfo(&sql, "docs.%s", DocsColumns[att - 1]);
			else
				appendStringInfo(&sql, "NULL::pg_catalog.%s", DocsColumnTypes[att - 1]);
			AddFragmentColumn(&cols, DocsColumns[att - 1], types[att - 1], -1,
							  type_is_collatable(types[att - 1]) ? DEFAULT_COLLATION_OID : InvalidOid);
		}
	}
	appendStringInfo(&sql, GKV_DOCS_FRAGMENT_WHERE "%s%s", where, top ? top : "");
	CallSigned(e, f->fanout, sql.data, &cols);
	if (projected)
		ReturnFragmentColumns(e, &cols);
	if (GkvDocsExplaining())
	{
		StringInfoData pushed;

		initStringInfo(&pushed);
		if (strcmp(where, "true") != 0)
			appendStringInfoString(&pushed, "WHERE, ");
		appendStringInfoString(&pushed, projected ? "the expressions read (computed on the nodes)" :
							   "the columns read");
		if (top != NULL)
			appendStringInfoString(&pushed, ", ORDER BY and LIMIT (each node's first rows)");
		GkvDocsExplainPlanned("fan-out", pushed.data, sql.data);
	}
}

static void
PlanFanout(DocsExpansion *e, const DocsFunctions *f, List *conds)
{
	if (!PlanFanoutGrouped(e, f, conds) && !PlanRepartitionGroups(e, f, conds) &&
		!PlanRepartitionDistinct(e, f, conds))
		PlanFanoutRows(e, f, conds);
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
	{
		GkvDocsExplainPlanned("local (this node holds every shard of its zone)", NULL, NULL);
		PlanLocal(e);
	}
	else
		PlanFanout(e, f, conds);
}

/* ----------------------------------------------------------------
 * Repartitioned joins: two uses of kv.docs joined on document fields
 * ----------------------------------------------------------------
 */

/* a Var of the query (this level) of an entry other than a and b (arg: both) */
static bool
OtherThanBoth(Var *v, int depth, void *arg)
{
	Index	   *both = arg;

	return v->varlevelsup == depth && v->varno != both[0] && v->varno != both[1];
}

/* expr with the Vars of b made Vars of a, for the one-relation checks */
static Node *
AsOneRelation(Node *expr, Index a, Index b)
{
	expr = copyObject(expr);
	ChangeVarNodes(expr, b, a, 0);
	return expr;
}

/*
 * JoinKeys: an equality between an expression of a alone and one of b
 * alone, of the same type (so one hash function serves both), among the
 * conditions; false when there is none.
 */
static bool
JoinKeys(List *conds, Index a, Index b, Node **akey, Node **bkey)
{
	ListCell   *lc;

	foreach(lc, conds)
	{
		OpExpr	   *op = lfirst(lc);
		Node	   *l,
				   *r;
		Relids		lrel,
					rrel;

		if (!IsA(op, OpExpr) || list_length(op->args) != 2)
			continue;
		l = linitial(op->args);
		r = lsecond(op->args);
		if (exprType(l) != exprType(r) || !op_hashjoinable(op->opno, exprType(l)))
			continue;
		lrel = pull_varnos(NULL, l);
		rrel = pull_varnos(NULL, r);
		if (bms_equal(lrel, bms_make_singleton(a)) && bms_equal(rrel, bms_make_singleton(b)))
		{
			*akey = l;
			*bkey = r;
			return true;
		}
		if (bms_equal(lrel, bms_make_singleton(b)) && bms_equal(rrel, bms_make_singleton(a)))
		{
			*akey = r;
			*bkey = l;
			return true;
		}
	}
	return false;
}

/* are these two range-table references a and b, in either order? */
static bool
JoinsBoth(Node *x, Node *y, Index a, Index b)
{
	Index		i = ((RangeTblRef *) x)->rtindex;
	Index		j = ((RangeTblRef *) y)->rtindex;

	return (i == a && j == b) || (i == b && j == a);
}

static Oid
Int4Operator(const char *name)
{
	return LookupOperName(NULL, list_make2(makeString("pg_catalog"), makeString(pstrdup(name))),
						  INT4OID, INT4OID, false, -1);
}

static Param *
BucketParam(int id)
{
	Param	   *p = makeNode(Param);

	p->paramkind = PARAM_EXTERN;
	p->paramid = id;
	p->paramtype = INT4OID;
	p->paramtypmod = -1;
	p->paramcollid = InvalidOid;
	p->location = -1;
	return p;
}

/*
 * BucketExpr: the condition that keeps the rows of bucket $1 of $2 --
 * COALESCE((hash & 2147483647) % $2, 0) = $1; NULL keys fall in bucket 0.
 * globalkv.docs_bucket runs the query with the bucket's numbers.
 */
static Expr *
BucketExpr(Node *hash)
{
	CoalesceExpr *c = makeNode(CoalesceExpr);
	Expr	   *masked = make_opclause(Int4Operator("&"), INT4OID, false, (Expr *) hash,
									   (Expr *) makeConst(INT4OID, -1, InvalidOid, 4,
														  Int32GetDatum(PG_INT32_MAX), false, true),
									   InvalidOid, InvalidOid);
	Expr	   *bucket = make_opclause(Int4Operator("%"), INT4OID, false, masked,
									   (Expr *) BucketParam(2), InvalidOid, InvalidOid);

	c->coalescetype = INT4OID;
	c->args = list_make2(bucket, makeConst(INT4OID, -1, InvalidOid, 4, Int32GetDatum(0), false, true));
	c->location = -1;
	return make_opclause(Int4EqualOperator, BOOLOID, false, (Expr *) c, (Expr *) BucketParam(1),
						 InvalidOid, InvalidOid);
}

static Node *
AddCondition(Node *quals, Expr *cond)
{
	return quals == NULL ? (Node *) cond :
		(Node *) make_andclause(list_make2(quals, cond));
}

/* the expansion of kv.docs made back into the view, for pg_get_querydef */
static void
AsDocsView(RangeTblEntry *rte, Oid view_oid)
{
	rte->rtekind = RTE_RELATION;
	rte->relid = view_oid;
	rte->relkind = RELKIND_VIEW;
	rte->rellockmode = AccessShareLock;
	rte->subquery = NULL;
	rte->security_barrier = false;
	rte->inh = true;			/* no "ONLY" in its text: a view has no children */
}

/*
 * PlanRepartitionJoin: a SELECT joining two uses of kv.docs -- and nothing
 * else -- on an equality of document fields (inner, left or right join),
 * with every condition and expression shippable.  Both sides are
 * repartitioned by a hash of their join key: node i of the zone's n nodes
 * runs the whole join for bucket i, asking every node for the rows of
 * bucket i of each side, so every pair the join can make meets there, and
 * every row of an outer join's preserved side is in exactly one bucket.
 * Aggregates over the join are split as a fan-out splits them (partial
 * results per bucket, combined here); without aggregates the buckets
 * return the joined rows, and ORDER BY, LIMIT and DISTINCT run here.
 */
static bool
PlanRepartitionJoin(Query *q, DocsExpansion *a, DocsExpansion *b, const DocsFunctions *f)
{
	FromExpr   *jt = q->jointree;
	JoinExpr   *join = NULL;
	JoinType	jointype = JOIN_INNER;
	Index		both[2] = {a->rti, b->rti};
	VarWalk		others = {OtherThanBoth, both, 0};
	GroupedContext ctx = {0};
	List	   *conds;
	Node	   *akey;
	Node	   *bkey;
	Node	   *ahash;
	Node	   *bhash;
	Query	   *bucket;
	List	   *tlist = NIL;
	Node	   *having = NULL;
	bool		grouped = q->hasAggs || q->groupClause != NIL;
	FragmentColumns cols = {0};
	char	   *sql;
	int			column = 0;
	ListCell   *lc;

	if (GkvDocsRunningBucket() || GkvDocsScope == GKV_DOCS_NODE || HoldsWholeZone() ||
		q->commandType != CMD_SELECT || q->setOperations != NULL || q->rowMarks != NIL ||
		q->hasSubLinks || q->hasWindowFuncs || q->hasTargetSRFs || q->groupingSets != NIL ||
		q->hasDistinctOn || q->cteList != NIL || query_tree_walker(q, AnyVar, &others, 0))
		return false;

	/* FROM a, b WHERE ... or FROM a [LEFT|RIGHT] JOIN b ON ... WHERE ... */
	conds = list_copy(make_ands_implicit((Expr *) jt->quals));
	if (list_length(jt->fromlist) == 1 && IsA(linitial(jt->fromlist), JoinExpr))
	{
		join = linitial_node(JoinExpr, jt->fromlist);
		if (!IsA(join->larg, RangeTblRef) || !IsA(join->rarg, RangeTblRef) ||
			!JoinsBoth(join->larg, join->rarg, a->rti, b->rti) ||
			(join->jointype != JOIN_INNER && join->jointype != JOIN_LEFT && join->jointype != JOIN_RIGHT) ||
			join->usingClause != NIL || join->alias != NULL)
			return false;
		jointype = join->jointype;
		/* a is the join's left */
		if (((RangeTblRef *) join->larg)->rtindex != (int) a->rti)
		{
			DocsExpansion *t = a;

			a = b;
			b = t;
		}
		if (!JoinKeys(make_ands_implicit((Expr *) join->quals), a->rti, b->rti, &akey, &bkey) &&
			(jointype != JOIN_INNER || !JoinKeys(conds, a->rti, b->rti, &akey, &bkey)))
			return false;
		conds = list_concat(conds, make_ands_implicit((Expr *) join->quals));
	}
	else if (list_length(jt->fromlist) == 2 && IsA(linitial(jt->fromlist), RangeTblRef) &&
			 IsA(lsecond(jt->fromlist), RangeTblRef) &&
			 JoinsBoth(linitial(jt->fromlist), lsecond(jt->fromlist), a->rti, b->rti))
	{
		if (!JoinKeys(conds, a->rti, b->rti, &akey, &bkey))
			return false;
	}
	else
		return false;
	foreach(lc, conds)
		if (!Shippable(AsOneRelation(lfirst(lc), a->rti, b->rti), a->rti))
			return false;
	if (!GroupShippable(akey, a->rti) || !GroupShippable(bkey, b->rti) ||
		(ahash = BucketHash(akey)) == NULL || (bhash = BucketHash(bkey)) == NULL)
		return false;

	/* what the buckets return, and what this node makes of it */
	ctx.rti = a->rti;
	ctx.other_rti = b->rti;
	if (grouped)
	{
		foreach(lc, q->groupClause)
		{
			Node	   *expr = get_sortgroupclause_expr(lfirst_node(SortGroupClause, lc), q->targetList);

			if (!GroupShippable(AsOneRelation(expr, a->rti, b->rti), a->rti))
				return false;
			ctx.group_exprs = lappend(ctx.group_exprs, expr);
		}
		tlist = (List *) GroupedMutator(copyObject((Node *) q->targetList), &ctx);
		having = GroupedMutator(copyObject(q->havingQual), &ctx);
		if (ctx.failed)
			return false;
	}
	else
		foreach(lc, q->targetList)
			if (!Shippable(AsOneRelation((Node *) lfirst_node(TargetEntry, lc)->expr, a->rti, b->rti), a->rti))
				return false;

	/* the bucket's query: this one over kv.docs itself, with the bucket conditions */
	bucket = copyObject(q);
	AsDocsView(rt_fetch(a->rti, bucket->rtable), a->view_oid);
	AsDocsView(rt_fetch(b->rti, bucket->rtable), b->view_oid);
	if (join != NULL && jointype != JOIN_INNER)
	{
		/* the preserved side is cut in WHERE, the nullable side in ON */
		JoinExpr   *bjoin = linitial_node(JoinExpr, bucket->jointree->fromlist);
		bool		a_preserved = jointype == JOIN_LEFT;

		bucket->jointree->quals = AddCondition(bucket->jointree->quals,
											   BucketExpr(a_preserved ? ahash : bhash));
		bjoin->quals = AddCondition(bjoin->quals, BucketExpr(a_preserved ? bhash : ahash));
	}
	else
	{
		bucket->jointree->quals = AddCondition(bucket->jointree->quals, BucketExpr(ahash));
		bucket->jointree->quals = AddCondition(bucket->jointree->quals, BucketExpr(bhash));
	}
	bucket->sortClause = NIL;
	bucket->distinctClause = NIL;
	bucket->limitCount = NULL;
	bucket->limitOffset = NULL;
	bucket->limitOption = LIMIT_OPTION_DEFAULT;
	if (grouped)
	{
		List	   *group_tlist = NIL;
		List	   *group_clause = NIL;

		foreach(lc, list_concat_copy(ctx.group_exprs, ctx.partials))
		{
			column++;
			group_tlist = lappend(group_tlist, makeTargetEntry(lfirst(lc), column, psprintf("c%d", column), false));
			if (column <= list_length(ctx.group_exprs))
			{
				SortGroupClause *sgc = copyObject(list_nth_node(SortGroupClause, q->groupClause, column - 1));

				sgc->tleSortGroupRef = column;
				llast_node(TargetEntry, group_tlist)->ressortgroupref = column;
				group_clause = lappend(group_clause, sgc);
			}
		}
		bucket->targetList = group_tlist;
		bucket->groupClause = group_clause;
		bucket->havingQual = NULL;
		bucket->hasAggs = ctx.partials != NIL;
	}
	else
		foreach(lc, bucket->targetList)
		{
			TargetEntry *tle = lfirst_node(TargetEntry, lc);

			tle->resjunk = false;
			tle->resname = psprintf("c%d", tle->resno);
		}
	sql = pg_get_querydef(bucket, false);
	foreach(lc, bucket->targetList)
	{
		Node	   *expr = (Node *) lfirst_node(TargetEntry, lc)->expr;

		AddFragmentColumn(&cols, psprintf("c%d", foreach_current_index(lc) + 1), exprType(expr),
						  exprTypmod(expr), exprCollation(expr));
	}

	/* here: the buckets' rows, through the first use of kv.docs */
	CallSigned(a, f->repartition, sql, &cols);
	GkvDocsExplainPlanned("repartition",
						  grouped ? "the join, by a hash of its key, with partial aggregates (combined here): each node joins the rows of its bucket from both sides, gathered from every node" :
						  "the join, by a hash of its key: each node joins the rows of its bucket from both sides, gathered from every node",
						  sql);
	ReturnFragmentColumns(a, &cols);
	q->jointree = makeFromExpr(list_make1(makeNode(RangeTblRef)), NULL);
	((RangeTblRef *) linitial(q->jointree->fromlist))->rtindex = a->rti;
	if (join != NULL)
	{
		/* the join is gone; its columns, which nothing reads, must not name a's old ones */
		RangeTblEntry *jrte = rt_fetch(join->rtindex, q->rtable);

		jrte->joinaliasvars = NIL;
		jrte->joinleftcols = NIL;
		jrte->joinrightcols = NIL;
		jrte->joinmergedcols = 0;
		jrte->jointype = JOIN_INNER;	/* no outer join is left here to reduce */
	}
	if (grouped)
	{
		q->targetList = tlist;
		q->havingQual = having;
	}
	else
		ReadFinishedRows(q, a->rti);
	return true;
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

		List	   *expansions = NIL;

		foreach(lc, q->rtable)
		{
			RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);
			RangeTblEntry *func_rte;
			RangeTblEntry *view_rte;
			DocsExpansion *e;

			rti++;
			if (rte->rtekind != RTE_SUBQUERY ||
				(func_rte = DocsFunctionRte(rte->subquery, f->unplanned)) == NULL)
				continue;
			/* the rewriter leaves the view itself first, for its permission check */
			view_rte = linitial_node(RangeTblEntry, rte->subquery->rtable);
			if (view_rte->rtekind != RTE_RELATION)
				elog(ERROR, "unexpected expansion of kv.docs");
			e = palloc(sizeof(DocsExpansion));
			e->parent = q;
			e->rti = rti;
			e->func_rte = func_rte;
			e->view_oid = view_rte->relid;
			expansions = lappend(expansions, e);
		}
		/* two joined, repartitioned as one; or each on its own */
		if (list_length(expansions) != 2 ||
			!PlanRepartitionJoin(q, linitial(expansions), lsecond(expansions), f))
			foreach(lc, expansions)
				PlanExpansion(lfirst(lc), f);
		return query_tree_walker(q, PlanDocsWalker, (void *) f, 0);
	}
	return expression_tree_walker(node, PlanDocsWalker, (void *) f);
}

/*
 * BindBucketParams: a bucket of a repartitioned query has its bucket
 * numbers as $1 and $2 (globalkv.docs_bucket); made constants here, before
 * kv.docs is planned, its bucket condition can be shipped like any other.
 */
static Node *
BindBucketParams(Node *node, ParamListInfo params)
{
	if (node == NULL)
		return NULL;
	if (IsA(node, Param))
	{
		Param	   *p = (Param *) node;
		ParamExternData *prm;

		if (p->paramkind != PARAM_EXTERN || p->paramid < 1 || p->paramid > params->numParams ||
			params->paramFetch != NULL)
			return node;
		prm = &params->params[p->paramid - 1];
		if (prm->ptype != p->paramtype || p->paramtype != INT4OID)
			return node;
		return (Node *) makeConst(INT4OID, -1, InvalidOid, sizeof(int32), prm->value, prm->isnull, true);
	}
	if (IsA(node, Query))
		return (Node *) query_tree_mutator((Query *) node, BindBucketParams, params, 0);
	return expression_tree_mutator(node, BindBucketParams, params);
}

static PlannedStmt *
GkvDocsPlanner(Query *parse, const char *query_string, int cursorOptions,
			   ParamListInfo boundParams)
{
	DocsFunctions f;

	if (HasSubqueryWithFunction((Node *) parse, NULL) && GetDocsFunctions(&f))
	{
		if (GkvDocsRunningBucket() && boundParams != NULL)
			parse = (Query *) BindBucketParams((Node *) parse, boundParams);
		(void) PlanDocsWalker((Node *) parse, &f);
	}
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
