import { nothing } from "lib/not-there";
trace(nothing);
