// Just enough types for the parts of xmpp.js we use (the packages ship none).
declare module "@xmpp/xml" {
  export class Element {
    name: string;
    attrs: Record<string, string | undefined>;
    children: (Element | string)[];
    parent: Element | null;
    constructor(name: string, attrs?: Record<string, string | undefined>);
    is(name: string, xmlns?: string): boolean;
    getName(): string;
    getNS(): string | undefined;
    getChild(name: string, xmlns?: string): Element | undefined;
    getChildren(name: string, xmlns?: string): Element[];
    getChildElements(): Element[];
    getChildText(name: string, xmlns?: string): string | null;
    getText(): string;
    text(): string;
    append(...children: (Element | string)[]): Element;
    c(name: string, attrs?: Record<string, string | undefined>): Element;
    t(text: string): Element;
    up(): Element;
    toString(): string;
  }
  type Child = Element | string | undefined | null | false;
  function xml(name: string, attrs?: Record<string, string | undefined> | null, ...children: (Child | Child[])[]): Element;
  namespace xml {
    export { Element };
    export function escapeXMLText(s: string): string;
    export class Parser {
      constructor();
      write(s: string): void;
      end(s?: string): void;
      on(event: "element" | "start" | "end" | "error", fn: (...a: any[]) => void): void;
    }
  }
  export default xml;
}

declare module "@xmpp/jid" {
  export interface JID {
    local: string;
    domain: string;
    resource: string;
    bare(): JID;
    toString(): string;
  }
}

declare module "@xmpp/component" {
  import type xml from "@xmpp/xml";
  import type { Element } from "@xmpp/xml";
  import type { EventEmitter } from "node:events";
  import type { JID } from "@xmpp/jid";
  export { xml };
  export function jid(s: string): JID;
  export interface IncomingContext {
    stanza: Element;
    element: Element;
    name: string;
    type: string;
    id: string;
    from: JID;
    to: JID;
  }
  export type Middleware = (ctx: IncomingContext, next: () => Promise<unknown>) => unknown;
  export interface Component extends EventEmitter {
    status: string;
    jid: JID | null;
    start(): Promise<void>;
    stop(): Promise<void>;
    send(el: Element): Promise<void>;
    write(s: string): Promise<void>;
    socket: (import("node:net").Socket & { writableLength: number }) | null;
    reconnect: { delay: number; stop(): void; reconnect(): Promise<void> };
    middleware: { use(fn: Middleware): void; filter(fn: Middleware): void };
    iqCaller: { request(el: Element, timeoutMs?: number): Promise<Element> };
    iqCallee: {
      get(ns: string, name: string, fn: (ctx: IncomingContext) => unknown): void;
      set(ns: string, name: string, fn: (ctx: IncomingContext) => unknown): void;
    };
  }
  export function component(opts: { service: string; domain: string; password: string }): Component;
}

declare module "@xmpp/client" {
  import type xml from "@xmpp/xml";
  import type { Element } from "@xmpp/xml";
  import type { EventEmitter } from "node:events";
  import type { JID } from "@xmpp/jid";
  export { xml };
  export function jid(s: string): JID;
  export interface Client extends EventEmitter {
    status: string;
    jid: JID | null;
    start(): Promise<unknown>;
    stop(): Promise<void>;
    send(el: Element): Promise<void>;
    reconnect: { stop(): void };
    iqCaller: { request(el: Element, timeoutMs?: number): Promise<Element> };
    iqCallee: {
      get(ns: string, name: string, fn: (ctx: any) => unknown): void;
      set(ns: string, name: string, fn: (ctx: any) => unknown): void;
    };
  }
  export function client(opts: Record<string, unknown>): Client;
}
