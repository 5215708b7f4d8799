import { salutation } from "./words.js";
import { join } from "../util/join";
export function greet(name) { return join(salutation, name); }
