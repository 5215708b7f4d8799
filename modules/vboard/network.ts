// "board/network" on the virtual board: the host's loopback is up from the
// first instruction, as a wired network would be; nothing to wait for.

export function whenNetworkUp(callback: () => void): void {
  callback();
}
