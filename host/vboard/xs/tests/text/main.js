// Moddable's TextEncoder and TextDecoder, built into the board
import TextDecoder from "text/decoder";
import TextEncoder from "text/encoder";
const bytes = new TextEncoder().encode("héllo ✓");
trace(Array.from(bytes).join(",") + "\n");
trace(new TextDecoder().decode(bytes) + " " + new TextDecoder().encoding + "\n");
