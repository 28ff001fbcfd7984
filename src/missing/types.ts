/** One request for a symbol that no location has, with the client's optional code file hints. */
export interface MissingSymbol {
  readonly debugFile: string;
  readonly debugId: string;
  readonly symbolFile: string;
  /** Empty when the request had no `code_file`. */
  readonly codeFile: string;
  /** Empty when the request had no `code_id`. */
  readonly codeId: string;
}

/** Takes missing-symbol requests from the request path; must not block or throw. */
export interface MissingSymbolRecorder {
  record(symbol: MissingSymbol): void;
}
