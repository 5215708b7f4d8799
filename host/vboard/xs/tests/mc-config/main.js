import config from "mc/config";

trace(`${JSON.stringify(config)} frozen ${Object.isFrozen(config)}\n`);
