// The few JID facts the rules need; the XMPP server has already normalised `from`.
export const bareJid = (full: string): string => {
  const slash = full.indexOf("/");
  return slash === -1 ? full : full.slice(0, slash);
};

export const domainOf = (full: string): string => {
  const bare = bareJid(full);
  return bare.slice(bare.indexOf("@") + 1);
};
