import "lib/broken";
