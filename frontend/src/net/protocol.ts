// Protocol-level helpers shared by the connection and the stores: which commands write, the reply
// case each command is answered with, and typed errors. Nothing here touches a socket.
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ClientMessageSchema, Reply } from "../gen/pm/v1/envelope_pb";
import { ErrorCode } from "../gen/pm/v1/envelope_pb";
import type { Error as PbError } from "../gen/pm/v1/envelope_pb";

/** A command as it goes into `ClientMessage.command`. */
export type Command = Exclude<MessageInitShape<typeof ClientMessageSchema>["command"], { case: undefined } | undefined>;
export type CommandCase = Command["case"];
export type ReplyResult = Exclude<Reply["result"], { case: undefined | "error" }>;
/** The typed value of the reply case `C`. */
export type ResultOf<C extends ReplyResult["case"]> = Extract<ReplyResult, { case: C }>["value"];

/** The commands that write, and are therefore idempotent by request id and may be queued offline. */
const MUTATIONS: ReadonlySet<CommandCase> = new Set<CommandCase>([
  "createProject",
  "updateProject",
  "archiveProject",
  "unarchiveProject",
  "deleteProject",
  "addMember",
  "changeMemberRole",
  "removeMember",
  "createWorkItem",
  "updateWorkItem",
  "moveWorkItem",
  "deleteWorkItem",
  "createSprint",
  "updateSprint",
  "startSprint",
  "completeSprint",
  "cancelSprint",
  "deleteSprint",
  "addComment",
  "editComment",
  "deleteComment",
  "startTimer",
  "stopTimer",
  "addTimeEntry",
  "editTimeEntry",
  "deleteTimeEntry",
  "addDependency",
  "removeDependency",
]);

export function isMutation(c: CommandCase): boolean {
  return MUTATIONS.has(c);
}

/** Why a request failed: a server `Error`, or something on our side of the wire. */
export class RequestError extends Error {
  readonly code: ErrorCode | "timeout" | "closed" | "unexpected";
  readonly field: string;
  readonly server?: PbError;

  constructor(code: RequestError["code"], message: string, server?: PbError) {
    super(message);
    this.name = "RequestError";
    this.code = code;
    this.field = server?.field ?? "";
    this.server = server;
  }

  static fromServer(e: PbError): RequestError {
    return new RequestError(e.code, e.message || ErrorCode[e.code] || "The server refused the request", e);
  }

  get isConflict(): boolean {
    return this.code === ErrorCode.CONFLICT;
  }
}

export function newRequestId(): string {
  return crypto.randomUUID();
}
