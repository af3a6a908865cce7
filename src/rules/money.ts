/** Formatters shared by the Liquid filters and the fast template path. */

/** One formatter per currency, with its minor-unit divisor (resolvedOptions() is slow per call). */
const currencyFormats = new Map<string, { readonly format: Intl.NumberFormat; readonly divisor: number }>();

/**
 * The `money` filter: an integer amount in the currency's minor unit (cents) to a formatted amount,
 * e.g. `200 | money` → `$2.00`, `1500 | money: "EUR"` → `€15.00`, `500 | money: "JPY"` → `¥500`.
 * null/empty renders as empty text; anything else that is not a number is a render error.
 */
export function formatMoney(amount: unknown, currency: unknown = 'USD'): string {
  if (amount === null || amount === undefined || amount === '') return '';
  const minorUnits = typeof amount === 'string' && /^-?[0-9]+(\.[0-9]+)?$/.test(amount.trim()) ? Number(amount) : amount;
  if (typeof minorUnits !== 'number' || !Number.isFinite(minorUnits)) {
    throw new Error(`money needs an amount in cents, not ${JSON.stringify(amount)}`);
  }
  const code = typeof currency === 'string' ? currency.toUpperCase() : '';
  let cached = currencyFormats.get(code);
  if (!cached) {
    let format: Intl.NumberFormat;
    try {
      format = new Intl.NumberFormat('en-US', { style: 'currency', currency: code });
    } catch {
      throw new Error(`money needs a three-letter currency code such as USD, not ${JSON.stringify(currency)}`);
    }
    // Zero-decimal currencies (JPY) have no minor unit: the amount is already whole.
    cached = { format, divisor: 10 ** (format.resolvedOptions().maximumFractionDigits ?? 2) };
    currencyFormats.set(code, cached);
  }
  return cached.format.format(minorUnits / cached.divisor);
}
