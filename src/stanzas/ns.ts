export const NS_UP = "unifiedpush.org"; // dialect 1
export const NS_CONV = "http://gultsch.de/xmpp/drafts/unified-push"; // dialect 2
export const NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";
export const NS_DISCO_INFO = "http://jabber.org/protocol/disco#info";
export const NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items";
export const NS_PING = "urn:xmpp:ping";
