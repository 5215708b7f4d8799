export const salutation = "hello";
