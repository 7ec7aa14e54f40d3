/** One entry of a filter chain's `filters` list, in Envoy's YAML shape. */
export interface NetworkFilter {
  readonly name: string;
  readonly typed_config: { readonly "@type": string; readonly [field: string]: unknown };
}
