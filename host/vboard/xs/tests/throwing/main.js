import "./bad";
trace("not reached\n");
