// bare specifiers by exact name, relative ones against the importer
import { greet } from "lib/greet";
import Timer from "timer";
trace(greet("board") + "\n");
trace(`timer ${typeof Timer.set}\n`);
