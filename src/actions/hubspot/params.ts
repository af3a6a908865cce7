import * as yup from 'yup';

/** Params of `hubspot.upsert_contact`, as written in a rule (strings may hold templates). */
export interface HubspotUpsertContactParams {
  email: string;
  properties?: Record<string, string | number | boolean>;
}

/** HubSpot internal property names: lowercase letters, digits and underscores, starting with a letter. */
export const HUBSPOT_PROPERTY_NAME = /^[a-z][a-z0-9_]*$/;

export const hubspotUpsertContactParams: yup.ObjectSchema<HubspotUpsertContactParams> = yup
  .object({
    // defined() rather than required(): required() also rejects "" and would report it twice.
    email: yup.string().strict().typeError('email must be a string').defined('email is required').min(1, 'email must not be empty'),
    properties: yup
      .mixed<Record<string, string | number | boolean>>()
      .test('properties', (value, context) => {
        if (value === undefined) return true;
        if (value === null || typeof value !== 'object' || Array.isArray(value)) {
          return context.createError({ message: 'properties must be a map of HubSpot property name to value' });
        }
        for (const [name, propertyValue] of Object.entries(value)) {
          if (!HUBSPOT_PROPERTY_NAME.test(name)) {
            return context.createError({
              message: `property name ${name} must be a HubSpot internal name: lowercase letters, digits and _`,
            });
          }
          if (!['string', 'number', 'boolean'].includes(typeof propertyValue)) {
            return context.createError({ message: `property ${name} must be a string, number or boolean` });
          }
        }
        return true;
      }),
  })
  .strict()
  .noUnknown(({ unknown }) => `unknown key ${String(unknown)}: hubspot.upsert_contact takes email, properties`) as yup.ObjectSchema<HubspotUpsertContactParams>;
