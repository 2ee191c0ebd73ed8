import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { ISpace } from '../../api/workspace';

/**
 * Properties of `SpacePicker`.
 */
export interface ISpacePickerProps {
  spaces: ReadonlyArray<ISpace>;
  value: string;
  trans: TranslationBundle;
  onChange: (space: string) => void;
}

/**
 * The space selector: "My files" and one entry per team.
 */
export function SpacePicker(props: ISpacePickerProps): JSX.Element {
  const { spaces, value, trans, onChange } = props;
  return (
    <select
      className="jp-tz-SpacePicker jp-tz-Input"
      aria-label={trans.__('Space')}
      value={value}
      onChange={event => onChange(event.target.value)}
    >
      {spaces.map(s => (
        <option key={s.space} value={s.space}>
          {s.kind === 'user'
            ? trans.__('My files (%1)', s.name)
            : trans.__('Team %1', s.name)}
        </option>
      ))}
    </select>
  );
}
