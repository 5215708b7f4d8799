// What an RPC client needs from a channel: send a frame, hear frames back.
// Serial, HTTP, WebSocket and MQTT each implement it with their own framing.

export interface FrameTransport {
  /** How the user named the port, for messages. */
  readonly description: string;
  /** Frames (JSON text) arriving from the device. */
  onFrame: (json: string) => void;
  /** Console log lines seen on the way (serial only). */
  onLog: (line: string) => void;
  /**
   * The src and dst every request must carry, on a transport that routes by
   * them (MQTT: the device replies to `<src>/rpc`).
   */
  readonly addressing?: { readonly src: string; readonly dst: string };
  /** Send one frame; rejects with a TransportError when it cannot be delivered. */
  send(json: string): Promise<void>;
  close(): Promise<void>;
}

/** The port could not be used: wrong path, refused connection, closed link. */
export class TransportError extends Error {
  override readonly name = "TransportError";
}
