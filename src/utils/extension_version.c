/*-------------------------------------------------------------------------
 *
 * extension_version.c
 *	  Is the SQL installed in this database the one this library was built
 *	  for?
 *
 * The library and the SQL scripts are released together: a C function may
 * rely on a table, a column or a function of its own version, and on
 * nothing older.  So instead of probing the schema's shape, the library
 * compares pg_extension.extversion with the version it was built for
 * (GKV_SQL_VERSION, the default_version of globalkv.control) the first
 * time it reads the catalog, and refuses to work on anything else with a
 * clear error: after installing new binaries, run ALTER EXTENSION globalkv
 * UPDATE.  The check is skipped while CREATE or ALTER EXTENSION runs the
 * scripts, which call the library on the way to the new version.
 * Background workers do not error: they wait, and say why once.
 *
 * src/utils/extension_version.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"

#include "globalkv/errcodes.h"
#include "globalkv/utils.h"

#ifndef GKV_SQL_VERSION
#error "GKV_SQL_VERSION must be defined by the build (the default_version of globalkv.control)"
#endif

/*
 * GkvInstalledVersion: the version of globalkv installed in this database
 * (palloc'd), NULL when it is not installed.  Needs a transaction.
 */
char *
GkvInstalledVersion(void)
{
	Relation	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	char	   *version = NULL;

	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber, F_NAMEEQ,
				CStringGetDatum("globalkv"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;
		Datum		d = heap_getattr(tup, Anum_pg_extension_extversion,
									 RelationGetDescr(rel), &isnull);

		if (!isnull)
			version = text_to_cstring(DatumGetTextPP(d));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return version;
}

/*
 * GkvRequireBuiltVersion raises GK013 unless the installed SQL is the one
 * this library was built for (or the scripts are running right now).
 */
void
GkvRequireBuiltVersion(void)
{
	char	   *installed;

	if (creating_extension)
		return;
	installed = GkvInstalledVersion();
	if (installed == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_GKV_NOT_INITIALIZED),
				 errmsg("globalkv is not installed in this database"),
				 errhint("Run CREATE EXTENSION globalkv.")));
	if (strcmp(installed, GKV_SQL_VERSION) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_GKV_NOT_INITIALIZED),
				 errmsg("globalkv's SQL is at version %s, but its library is version %s",
						installed, GKV_SQL_VERSION),
				 errhint("Run ALTER EXTENSION globalkv UPDATE in this database.")));
	pfree(installed);
}

/*
 * GkvExtensionReady, for background workers: true when globalkv is
 * installed at the version of this library.  When it is installed at
 * another version, logs that once per process and returns false: the
 * worker waits for ALTER EXTENSION globalkv UPDATE.  Needs a transaction.
 */
bool
GkvExtensionReady(void)
{
	static bool reported = false;
	char	   *installed = GkvInstalledVersion();
	bool		ready;

	if (installed == NULL)
		return false;
	ready = strcmp(installed, GKV_SQL_VERSION) == 0;
	if (!ready && !reported)
		ereport(LOG,
				(errmsg("globalkv: waiting for ALTER EXTENSION globalkv UPDATE: its SQL is at version %s, its library is version %s",
						installed, GKV_SQL_VERSION)));
	reported = !ready;
	pfree(installed);
	return ready;
}
