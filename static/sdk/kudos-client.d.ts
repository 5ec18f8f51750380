// Type declarations of the Kudos client SDK (kudos-client.js). Frame shapes: docs/protocol.md.

export declare const CLOSE_TOKEN_EXPIRED: 4001;

/** How a refused request rejects: the stable error code and the server's message. */
export declare class KudosError extends Error {
  readonly code: string;
  constructor(code: string, message?: string);
}

export interface KudosRoomOptions {
  /** The server, e.g. "https://kudos.example". */
  baseURL: string;
  /** The stream id. */
  stream: string;
  /** Called before every connection: a viewer token for this user. */
  getToken: () => string | Promise<string>;
  /** The WebSocket class; default the global one. */
  WebSocket?: typeof WebSocket;
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** A dial not open by then is abandoned and retried; default 10000. */
  connectTimeoutMs?: number;
}

export interface RoomState {
  state: 'connecting' | 'open' | 'reconnecting' | 'closed';
  code?: number;
  reason?: string;
  delayMs?: number;
}

export type Ack = { id: string } & Record<string, unknown>;

export declare class KudosRoom {
  constructor(options: KudosRoomOptions);
  /** The last welcome (the room's whole state as of the last connection). */
  readonly welcome: Record<string, unknown> | null;
  on(type: 'state', fn: (s: RoomState) => void): () => void;
  on(type: '*', fn: (data: any, type: string) => void): () => void;
  on(type: string, fn: (data: any) => void): () => void;
  /** Sends a client frame without an id (nothing answers it); false when not connected. */
  send(type: string, data?: unknown): boolean;
  connect(): Promise<Record<string, unknown>>;
  close(): void;
  request(type: string, data?: unknown, timeoutMs?: number): Promise<Ack>;
  refreshToken(): Promise<Ack>;
  comment(text: string): Promise<Ack & { comment_id: string }>;
  like(count?: number): boolean;
  vote(pollId: string, option: number): Promise<Ack>;
  answer(quizId: string, questionId: string, choice: number): Promise<Ack>;
  feedback(kind: 'rating' | 'nps', score: number): Promise<Ack>;
  claimCoupon(couponId: string): Promise<Ack & { code: string }>;
  enterDraw(drawId: string): Promise<Ack>;
  ask(text: string): Promise<Ack & { question_id: string }>;
  upvote(questionId: string): Promise<Ack>;
  clickProduct(productId: string): Promise<Ack>;
}
