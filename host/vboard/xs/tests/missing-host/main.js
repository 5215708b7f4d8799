import { f } from "./uses-missing";
f();
