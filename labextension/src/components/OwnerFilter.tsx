import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { FilterSelect } from './FilterSelect';

/**
 * Properties of `OwnerFilter`.
 */
export interface IOwnerFilterProps {
  /** The select's own class, next to `jp-tz-Input`. */
  className: string;
  /** The owner filter of the list ('' for anyone). */
  owner: string | undefined;
  /** The caller's user name (the "Mine" choice). */
  user: string;
  trans: TranslationBundle;
  onChange: (owner: string) => void;
}

/**
 * The "Anyone / Mine" filter of a sidebar list.
 */
export function OwnerFilter(props: IOwnerFilterProps): JSX.Element {
  const { trans, user } = props;
  return (
    <FilterSelect
      className={props.className}
      label={trans.__('Owner')}
      value={props.owner ? 'mine' : ''}
      onChange={value => props.onChange(value ? user : '')}
    >
      <option value="">{trans.__('Anyone')}</option>
      <option value="mine">{trans.__('Mine')}</option>
    </FilterSelect>
  );
}
