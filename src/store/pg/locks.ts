// PostgreSQL advisory lock keys, all in one place so no two uses collide.
// The two-int form (classid, objid) keeps ours apart from other software's
// locks on a shared server; advisory locks are per database.
export const LOCK_CLASS = 0x7570_0001; // "up" + 1: the gateway's fixed locks
export const LOCK_CLASS_ACCOUNT = 0x7570_0002; // per account: objid = hashtext(bare JID)

/** Held (session lock) while one instance migrates the schema. */
export const MIGRATION_LOCK = 1;
/** Held (session lock, on a dedicated connection) by the instance that holds the component link. */
export const LINK_HOLDER_LOCK = 2;
