import { describe, expect, it } from "vitest";
import { decodeClaims, isExpired } from "./token";

const b64url = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
const token = (claims: object) => `${b64url({ alg: "HS256" })}.${b64url(claims)}.signature`;

describe("tokens", () => {
  it("reads the claims the client shows and acts on", () => {
    expect(decodeClaims(token({ sub: "ann", tenant_id: "acme", role: "editor", exp: 10 }))).toMatchObject({
      sub: "ann",
      tenant_id: "acme",
      role: "editor",
    });
  });

  it("knows an expired token from a live one", () => {
    const now = 1_000_000_000_000;
    expect(isExpired(token({ exp: now / 1000 - 1 }), now)).toBe(true);
    expect(isExpired(token({ exp: now / 1000 + 60 }), now)).toBe(false);
  });

  it("leaves a token it cannot read to the server", () => {
    expect(decodeClaims("not-a-token")).toBeNull();
    expect(isExpired("a.b.c")).toBe(false);
  });
});
